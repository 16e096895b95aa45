"""Writes of the KPI app: recomputing KPI values, targets and control lines, alerts and their closing.

Recompute = read with the set-based passes of kpis.engine (no lock held), then replace the rows of the
requested months of a chunk of stores in one transaction under locks on the stores' rows, so two
recomputes running at once serialise their writes and leave one copy of each row.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import logging
import operator
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, connections, transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.models import ServiceVisit
from campaigns.models import Campaign
from customers.models import Customer
from dealership.models import Dealership, Role, StaleMonth, User
from dealership.services import kpi_months_mark_stale
from kpis import engine
from kpis.models import (CampaignMetric, ChannelValue, Direction, KpiAlert, KpiTarget, KpiValue, MarketData,
                         RecomputeJob, SatisfactionScore, Status)
from kpis.registry import KPIS, status_of
from sales.models import Order, Visit

log = logging.getLogger(__name__)

Progress = Callable[[float], None]

# Rows per bulk_create on SQLite (Django cuts smaller batches for its variable limit; PostgreSQL uses COPY).
BATCH = 5000


def _stable(x: float | None) -> float | None:
    """Floats summed in a different row order differ in the last bits (14359.74 vs 14359.740000000002);
    nine decimals make a recompute write the same rows whatever order the database returned. Most
    values are counts, whole already: they skip round(), which took 0.24 s of a 50-store recompute's
    writes (600,000 calls)."""
    if x.__class__ is float:  # most of them (the rest: None, ints and Decimals), without a float() each
        return x if x.is_integer() else round(x, 9)
    return x if x is None or float(x).is_integer() else round(x, 9)


# Stores per run of the passes (see recompute).
STORES_PER_PASS = 25


# --- which months ---------------------------------------------------------------------------------------

def _data_months(stores: list[Dealership]) -> dict[int, list[int]]:
    """Every month from a store's first record to its last record or the current month, whichever is later."""
    spans: dict[int, list[dt.datetime]] = defaultdict(list)
    ids = [s.pk for s in stores]
    # Customers: one grouped scan (no index leads with the store and created_at).
    for row in (Customer.objects.filter(dealership_id__in=ids).values("dealership_id")
                .annotate(first=Min("created_at"), last=Max("created_at"))):
        spans[row["dealership_id"]] += [row["first"], row["last"]]
    # The big tables: per store, so that min/max come from their (dealership, instant) indexes.
    for model, column in [(Visit, "occurred_at"), (Order, "ordered_at"), (ServiceVisit, "opened_at")]:
        for store_id in ids:
            row = model.objects.filter(dealership_id=store_id).aggregate(first=Min(column), last=Max(column))
            spans[store_id] += [row["first"], row["last"]]
    now = timezone.now()
    out = {}
    for store in stores:
        instants = [i for i in spans.get(store.pk, []) if i is not None]
        if not instants:
            continue
        first = engine.month_index(min(instants).astimezone(store.tzinfo).date())
        last = engine.month_index(max(max(instants), now).astimezone(store.tzinfo).date())
        out[store.pk] = list(range(first, last + 1))
    return out


def _scope(dealership_ids: list[int] | None, periods: list[dt.date] | None) -> tuple[engine.Scope, list[Dealership]]:
    stores = list(Dealership.objects.all() if dealership_ids is None else Dealership.objects.filter(pk__in=dealership_ids))
    if periods is None:
        months = _data_months(stores)
    else:
        wanted = sorted({engine.month_index(p) for p in periods})
        months = {s.pk: wanted for s in stores} if wanted else {}
    stores = [s for s in stores if s.pk in months]
    return engine.Scope(stores=months, tz={s.pk: s.tzinfo for s in stores}), stores


# --- recompute ------------------------------------------------------------------------------------------

def recompute(
    *,
    dealership_ids: list[int] | None = None,
    periods: list[dt.date] | None = None,
    progress: Progress | None = None,
) -> int:
    """Recompute every KPI of the given stores (all) and months (all with data); returns rows written.

    Idempotent: the rows of each store-month are replaced as a whole. Campaign metrics of those stores
    and the channel ROI of those months are recomputed too.
    """
    scope, stores = _scope(dealership_ids, periods)
    report = progress or (lambda _f: None)
    if not stores:
        report(1.0)
        return 0
    # Stores go through the passes in chunks: each pass is still one grouped query for many stores and
    # months, and the worker's memory is bounded by the chunks in hand, not by the size of the group.
    chunks = [stores[i:i + STORES_PER_PASS] for i in range(0, len(stores), STORES_PER_PASS)]
    done = [0.0] * len(chunks)
    lock = threading.Lock()

    def run(k: int) -> int:
        chunk = chunks[k]

        def share(f: float) -> None:
            with lock:  # chunks run side by side: the job's progress is their mean
                done[k] = f
                report(sum(done) / len(chunks))

        part = engine.Scope(stores={s.pk: scope.stores[s.pk] for s in chunk}, tz={s.pk: s.tzinfo for s in chunk})
        return _recompute_chunk(part, chunk, share, side_by_side=threads > 1)

    threads = _threads(len(chunks))
    if threads == 1:
        return sum(run(k) for k in range(len(chunks)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kpi-recompute") as pool:
        return sum(pool.map(lambda k: _in_own_connection(run, k), range(len(chunks))))


def _threads(chunks: int) -> int:
    """How many chunks run at once. The passes' grouped queries each keep one core of the database busy
    for seconds (sorts, windows, hash aggregates), so two chunks side by side use two cores where one
    leaves the second mostly idle. Only on PostgreSQL and only outside a transaction: a thread's own
    connection would not see the rows the caller has not committed yet (SQLite has one writer anyway)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, min(settings.KPI_RECOMPUTE_THREADS, chunks))


def _in_own_connection(run: Callable[[int], int], k: int) -> int:
    try:
        return run(k)
    finally:
        connections.close_all()  # this thread's connections; the pool's threads end with the recompute


def _recompute_chunk(scope: engine.Scope, stores: list[Dealership], report: Progress, *,
                     side_by_side: bool = False) -> int:
    data = engine.measure(scope, progress=lambda f: report(0.6 * f), side_by_side=side_by_side)
    started = time.perf_counter()
    rows = engine.kpi_rows(scope, data)
    timings = {**data.timings, "kpi_rows": time.perf_counter() - started}
    del data
    started = time.perf_counter()
    channel_from, until = engine.month_date(scope.lo), engine.month_date(scope.hi + 1)
    # An order in the requested months can still be a deal of a campaign that ended earlier: take in every
    # campaign ending in that earlier month or later, so that its month's channel ROI is whole.
    first_end = engine.campaigns_first_end(scope.ids, (channel_from, until))
    if first_end is not None and first_end.replace(day=1) < channel_from:
        channel_from = first_end.replace(day=1)
    figures = engine.campaign_figures(store_ids=scope.ids, months=(channel_from, until))
    # The months whose every campaign is among `figures`: those ending from channel_from up to the date
    # before which the campaigns read started (a campaign starts before it ends). Later ones only if they
    # started before it: their months' channel ROI would be over part of their campaigns.
    channel_months = (channel_from, engine.campaigns_started_before(until))
    timings["campaign_figures"] = time.perf_counter() - started
    report(0.7)
    started = time.perf_counter()
    written = _write_stores(scope, stores, rows, figures, channel_months)
    timings["writes"] = time.perf_counter() - started
    log.info("KPI recompute of %d stores: %s", len(stores),
             ", ".join(f"{k} {secs:.2f}s" for k, secs in timings.items()))
    report(1.0)
    return written


@transaction.atomic
def _write_stores(scope: engine.Scope, stores: list[Dealership], rows: list,
                  figures: list[engine.CampaignFigures], channel_months: tuple[dt.date, dt.date]) -> int:
    """Replace the stores' KPI rows of the scope's months, their campaigns' metrics and channel ROI, in one
    transaction, each table written once for all the stores."""
    # The locks on the stores' rows serialise concurrent recomputes of a store (PostgreSQL; SQLite
    # serialises writers anyway): the second one waits, then replaces the first one's rows. Taken in id
    # order, so that two recomputes of overlapping stores queue instead of deadlocking.
    list(Dealership.objects.select_for_update().filter(pk__in=scope.ids).order_by("pk").values_list("pk"))
    now = timezone.now()
    by_store: dict[int, list] = defaultdict(list)
    for row in rows:
        by_store[row[0]].append(row)
    stale, new = [], []
    store_level: dict[int, list[tuple[dt.date, str, float | None]]] = defaultdict(list)  # for the alerts
    for store, months in scope.stores.items():  # compared store by store: a few thousand rows in hand at a time
        shaped = [_kpi_value_row(r) for r in by_store.pop(store, [])]
        store_level[store] = [(period, code, value) for _s, period, code, person, value, *_ in shaped if person is None]
        gone, missing = _kpi_values_changed(store, [engine.month_date(m) for m in months], shaped)
        stale += gone
        new += missing
    _rows_write(KpiValue, KPI_VALUE_COLUMNS, stale, new, now)
    channel_periods = {s: {engine.month_date(m) for m in ms} for s, ms in scope.stores.items()}
    for f in figures:
        if channel_months[0] <= f.ends_on.replace(day=1) < channel_months[1]:
            channel_periods[f.store].add(f.ends_on.replace(day=1))
    written = len(rows) + _write_campaigns(channel_periods, figures, now)
    for store in stores:
        _raise_alerts(store, store_level[store.pk])
    return written


# Computed rows as the writes below take them: these columns, key columns first, and computed_at given
# once for all rows.
KPI_VALUE_COLUMNS = ["dealership_id", "period", "code", "person_id", "value", "numerator", "denominator"]
CAMPAIGN_METRIC_COLUMNS = ["campaign_id", "code", "value", "numerator", "denominator"]
CHANNEL_VALUE_COLUMNS = ["dealership_id", "period", "channel", "campaigns", "cost", "gross_profit", "roi"]


def _kpi_value_row(row: tuple) -> tuple:
    """An engine.kpi_rows row as a tuple of KPI_VALUE_COLUMNS."""
    store, m, person, code, (value, numerator, denominator) = row
    return store, engine.month_date(m), code, person, _stable(value), _stable(numerator), _stable(denominator)


def _kpi_values_changed(store: int, periods: list[dt.date], rows: list[tuple],
                        codes: list[str] | None = None) -> tuple[list[int], list[tuple]]:
    """What makes the store's KPI rows of `periods` exactly `rows` (tuples of KPI_VALUE_COLUMNS); with
    `codes`, only its store-level rows of those codes: see _rows_changed."""
    stored = KpiValue.objects.filter(dealership_id=store, period__in=periods)
    if codes is not None:
        stored = stored.filter(person=None, code__in=codes)
    return _rows_changed(stored, KPI_VALUE_COLUMNS, 4, rows)


def _rows_changed(stored: QuerySet, columns: list[str], keys: int,
                  rows: Iterable[tuple]) -> tuple[list[int], list[tuple]]:
    """What makes the rows `stored` selects exactly `rows` (tuples of `columns`, whose first `keys` name a
    row): the ids of the stored rows that differ from the new ones or are no longer computed, and the new
    rows then missing. A nightly recompute finds almost every value as it was, so only what changed is
    written (_rows_write): a row left in place costs no index entries, foreign-key checks or dead tuples,
    and its `computed_at` says when the value last changed. Compared here rather than in SQL: reading a
    chunk's 205,000 stored KPI rows and comparing them took less than sending the new ones to the database
    to compare them there (COPY to a temporary table, then two anti-joins: ≈ 1.9 s)."""
    wanted = {row[:keys]: row for row in rows}
    stale = []
    for pk, *row in stored.values_list("pk", *columns):
        key = tuple(row[:keys])
        if wanted.get(key) == tuple(row):
            del wanted[key]
        else:
            stale.append(pk)
    return stale, list(wanted.values())


def _rows_write(model, columns: list[str], stale: list[int], new: list[tuple], now: dt.datetime) -> None:
    """Delete the rows `stale`, then insert the rows `new` (tuples of `columns`, `now` as computed_at):
    COPY on PostgreSQL (bulk_create spent ~7 s on 48,000 KPI rows, mostly preparing each model instance's
    fields; COPY 0.4 s)."""
    for i in range(0, len(stale), BATCH):  # in batches: SQLite takes at most 32,766 parameters a statement
        model.objects.filter(pk__in=stale[i:i + BATCH]).delete()
    if not new:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(columns, row)), computed_at=now) for row in new],
                                  batch_size=BATCH)
        return
    _copy_insert(model._meta.db_table, columns, new, now)


def _of_store_periods(periods: dict[int, set[dt.date]]) -> Q:
    return functools.reduce(operator.or_, (Q(dealership_id=s, period__in=sorted(ps)) for s, ps in periods.items()),
                            Q(pk__in=[]))


# Rows per COPY statement. A first recompute inserts every row, ≈ 250,000 KPI rows a chunk at 50 stores:
# their text made at once took the worker's peak memory from 205 to 384 MB (two chunks at a time).
COPY_BATCH = 20_000


def _copy_insert(table: str, columns: list[str], rows: Iterable[tuple], now: dt.datetime) -> None:
    """COPY rows (plain numbers, dates and codes) into `table`, with `now` as computed_at. Measured on
    48,000 KPI rows: 1.5 s as INSERT … SELECT FROM UNNEST(ARRAY[…]) in batches of 5,000, 0.4 s as COPY
    (0.3 s of it making the text here)."""
    stamp = now.isoformat()

    def cell(x) -> str:
        if x is None:
            return "\\N"
        if isinstance(x, str):
            return x.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        return str(x)

    rows = iter(rows)
    with connection.cursor() as cursor:
        while batch := list(itertools.islice(rows, COPY_BATCH)):
            text = "".join("\t".join(map(cell, row)) + f"\t{stamp}\n" for row in batch)
            cursor.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}, computed_at) FROM STDIN",
                                      io.BytesIO(text.encode()))


def _write_campaigns(periods: dict[int, set[dt.date]], figures: list[engine.CampaignFigures],
                     now: dt.datetime) -> int:
    """The metrics of the campaigns of `figures`, and each store's channel ROI of its `periods` (over the
    campaigns of `figures` ending in them); returns the rows computed."""
    written = _campaign_metrics_replace(figures, now)
    channels: dict[tuple[int, dt.date, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for f in figures:
        period = f.ends_on.replace(day=1)
        if period in periods[f.store]:
            for channel in (f.channel, ""):
                acc = channels[(f.store, period, channel)]
                acc[0] += 1
                acc[1] += f.cost
                acc[2] += f.gross_profit
    rows = []
    for (store, period, channel), (n, cost, profit) in sorted(channels.items()):
        cost, profit = Decimal(f"{cost:.2f}"), Decimal(f"{profit:.2f}")
        rows.append((store, period, channel, n, cost, profit, _stable(float((profit - cost) / cost)) if cost else None))
    stored = ChannelValue.objects.filter(_of_store_periods(periods))
    _rows_write(ChannelValue, CHANNEL_VALUE_COLUMNS, *_rows_changed(stored, CHANNEL_VALUE_COLUMNS, 3, rows), now)
    return written + len(rows)


def _campaign_metrics_replace(figures: list[engine.CampaignFigures], now: dt.datetime) -> int:
    """Replace the metrics of the campaigns of `figures`; returns the rows computed."""
    campaigns = Campaign.objects.in_bulk([f.id for f in figures])
    rows = [(f.id, code, _stable(v[0]), _stable(v[1]), _stable(v[2]))
            for f in figures for code, v in engine.campaign_values(f, campaigns[f.id]).items()]
    stored = CampaignMetric.objects.filter(campaign_id__in=campaigns.keys())
    _rows_write(CampaignMetric, CAMPAIGN_METRIC_COLUMNS, *_rows_changed(stored, CAMPAIGN_METRIC_COLUMNS, 2, rows), now)
    return len(rows)


@transaction.atomic
def campaign_metrics_compute(*, campaign_ids: list[int] | None = None) -> int:
    """Recompute the metrics of some campaigns (all when None), without touching store KPIs."""
    return _campaign_metrics_replace(engine.campaign_figures(campaign_ids=campaign_ids), timezone.now())


# --- targets, status and alerts -------------------------------------------------------------------------

def targets_for(store: Dealership) -> dict[str, KpiTarget]:
    """The store's own targets, falling back on the defaults for every store."""
    targets: dict[str, KpiTarget] = {}
    for t in KpiTarget.objects.filter(Q(dealership=store) | Q(dealership__isnull=True)).order_by("dealership_id"):
        if t.dealership_id is not None or t.code not in targets:
            targets[t.code] = t
    return targets


def _raise_alerts(store: Dealership, values: list[tuple[dt.date, str, float | None]]) -> None:
    """Open one alert per store, code and month whose value is beyond its control line, and mail the
    store's managers. An alert already open (or answered) for that month is left as it is."""
    targets = targets_for(store)
    if not targets:
        return
    crossing = [(p, code, v) for p, code, v in values if status_of(v, targets.get(code)) == Status.ALERT]
    if not crossing:
        return
    known = set(KpiAlert.objects.filter(dealership=store, code__in={c for _p, c, _v in crossing})
                .values_list("period", "code"))
    fresh = [KpiAlert(dealership=store, code=code, period=p, value=v) for p, code, v in crossing
             if (p, code) not in known]
    if not fresh:
        return
    KpiAlert.objects.bulk_create(fresh, ignore_conflicts=True)
    transaction.on_commit(lambda: _mail_managers(store, fresh))


def _mail_managers(store: Dealership, alerts: list[KpiAlert]) -> None:
    emails = list(User.objects.filter(dealership=store, role=Role.MANAGER, is_active=True)
                  .exclude(email="").values_list("email", flat=True))
    if not emails:
        return
    lines = [f"{a.period:%Y-%m} {KPIS[a.code].name_zh} / {KPIS[a.code].name}: {a.value:.4g}" for a in alerts]
    subject = _("KPI alert at %(store)s: %(n)d value(s) beyond the control line") % {
        "store": store.name, "n": len(alerts)}
    body = "\n".join(lines) + "\n\n" + _("Record a corrective action to close each alert.")
    try:
        send_mail(subject, body, None, emails)
    except Exception:  # the alert row is what counts; a mail server outage must not fail the recompute
        log.exception("could not mail KPI alerts of store %s", store.pk)


@transaction.atomic
def kpi_target_set(*, dealership: Dealership | None, code: str, target: float, control_line: float,
                   direction: str) -> KpiTarget:
    """Set (or replace) the target and control line of one KPI for a store (None: the default)."""
    errors = {}
    if code not in KPIS:
        errors["code"] = _("Unknown KPI %(code)s.") % {"code": code}
    if direction not in Direction.values:
        errors["direction"] = _("Direction must be higher or lower.")
    elif direction == Direction.HIGHER and control_line > target:
        errors["control_line"] = _("When higher is better, the control line must be at or below the target.")
    elif direction == Direction.LOWER and control_line < target:
        errors["control_line"] = _("When lower is better, the control line must be at or above the target.")
    if errors:
        raise ValidationError(errors)
    obj, _created = KpiTarget.objects.update_or_create(
        dealership=dealership, code=code,
        defaults={"target": target, "control_line": control_line, "direction": direction},
    )
    return obj


@transaction.atomic
def kpi_alert_close(*, alert: KpiAlert, corrective_action: str, by: User) -> KpiAlert:
    """A manager answers an alert with the corrective action taken; the alert is closed."""
    action = (corrective_action or "").strip()
    if not action:
        raise ValidationError({"corrective_action": _("Describe the corrective action taken.")})
    alert = KpiAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.closed_at is not None:
        raise ValidationError({"corrective_action": _("This alert is already closed.")})
    alert.corrective_action = action
    alert.closed_at = timezone.now()
    alert.closed_by = by
    alert.save(update_fields=["corrective_action", "closed_at", "closed_by"])
    return alert


DEFAULT_TARGETS = [
    # code, target, control line, direction (seed articles: traffic achievement ≥ 90 %, churn ≤ 15 %)
    ("traffic_achievement", 0.90, 0.80, Direction.HIGHER),
    ("churn_rate", 0.15, 0.20, Direction.LOWER),
]


def kpi_defaults_seed() -> None:
    """The default targets of every store, unless someone has set them already."""
    for code, target, line, direction in DEFAULT_TARGETS:
        KpiTarget.objects.get_or_create(dealership=None, code=code,
                                        defaults={"target": target, "control_line": line, "direction": direction})


# --- background jobs ------------------------------------------------------------------------------------

def recompute_request(*, user: User | None, dealership: Dealership | None = None,
                      periods: list[dt.date] | None = None) -> RecomputeJob:
    """Create a job row and dispatch the recompute after commit. A broker that cannot be reached fails
    the job with a message (the caller sees it), rather than leaving it pending for ever."""
    job = RecomputeJob.objects.create(
        task_id=str(uuid.uuid4()), dealership=dealership, requested_by=user,
        periods=[p.strftime("%Y-%m") for p in periods or []],
    )

    def dispatch() -> None:
        from kpis.tasks import recompute_kpis  # tasks import services: import here, not at the top
        try:
            # A short retry policy: a user waits on this request, and a broker that is down must show
            # as a failed job within a second or two, not after kombu's default back-off.
            recompute_kpis.apply_async(args=[job.pk], task_id=job.task_id, retry=True,
                                       retry_policy={"max_retries": 2, "interval_start": 0,
                                                     "interval_step": 0.5, "interval_max": 1})
        except Exception as exc:  # eager mode runs the task here and records its own failure
            if RecomputeJob.objects.filter(pk=job.pk, state=RecomputeJob.State.PENDING).exists():
                RecomputeJob.objects.filter(pk=job.pk).update(
                    state=RecomputeJob.State.FAILED, finished_at=timezone.now(),
                    error=_("Could not queue the recompute: %(error)s") % {"error": exc})
            log.exception("could not dispatch recompute job %s", job.pk)

    transaction.on_commit(dispatch)
    return job


def recompute_job_run(*, job_id: int) -> RecomputeJob:
    """Run a requested recompute, writing its state and progress to the job row as it goes."""
    job = RecomputeJob.objects.get(pk=job_id)
    RecomputeJob.objects.filter(pk=job.pk).update(state=RecomputeJob.State.RUNNING, progress=0, error="")
    last = [0.0]

    def progress(fraction: float) -> None:
        # Progress rows are written outside the recompute's transactions, at most every 5 %.
        if fraction - last[0] >= 0.05 or fraction >= 1:
            last[0] = fraction
            RecomputeJob.objects.filter(pk=job.pk).update(progress=round(fraction, 3))

    try:
        periods = [dt.date.fromisoformat(f"{p}-01") for p in job.periods] or None
        recompute(dealership_ids=[job.dealership_id] if job.dealership_id else None, periods=periods,
                  progress=progress)
    except Exception as exc:
        RecomputeJob.objects.filter(pk=job.pk).update(state=RecomputeJob.State.FAILED, error=str(exc)[:2000],
                                                      finished_at=timezone.now())
        raise
    RecomputeJob.objects.filter(pk=job.pk).update(state=RecomputeJob.State.DONE, progress=1,
                                                  finished_at=timezone.now())
    job.refresh_from_db()
    return job


# A change in month m can move KPIs of later months: the 12/24-month windows and the customer base
# (up to 24 months on), the year-on-year traffic growth (12 months on), the stage at E and the intent
# loss denominator (every later month: the stage holds until the next change). Stage history and the
# base are open-ended, so every month from m to the present is recomputed. It also moves two things of
# *earlier* months: cohort rates (a customer passing a gate in m counts in the month he entered the
# lower stage), refreshed by _cohorts_refresh, and the deals of campaigns that ended before m but whose
# cycle reaches m (recompute takes those campaigns and their end months' channel ROI in).
@transaction.atomic
def _cohorts_refresh(store: Dealership, *, before: int) -> int:
    """Rewrite the cohort rates of the store's months before `before` (those already computed)."""
    months = sorted({engine.month_index(p) for p in KpiValue.objects.filter(
        dealership=store, person=None, code="capture_rate", period__lt=engine.month_date(before),
    ).values_list("period", flat=True)})
    if not months:
        return 0
    rows = engine.cohort_rows(engine.Scope(stores={store.pk: months}, tz={store.pk: store.tzinfo}))
    Dealership.objects.select_for_update().filter(pk=store.pk).first()
    changed = _kpi_values_changed(store.pk, [engine.month_date(m) for m in months],
                                  [_kpi_value_row(row) for row in rows], codes=list(engine.FUNNEL_GATES))
    _rows_write(KpiValue, KPI_VALUE_COLUMNS, *changed, timezone.now())
    return len(rows)


def stale_months_recompute() -> int:
    """Recompute the store-months marked stale (and the later months that depend on them).

    The marks of a store are deleted *before* its recompute: a write that lands meanwhile marks its
    month again and is picked up by the next run, rather than being swallowed by a delete afterwards.
    On failure the marks are put back.
    """
    marks = list(StaleMonth.objects.order_by("dealership_id", "period"))
    first: dict[int, dt.date] = {}
    for mark in marks:
        first.setdefault(mark.dealership_id, mark.period)
    stores = Dealership.objects.in_bulk(list(first))
    written = 0
    for store_id, period in first.items():
        store = stores[store_id]
        mine = [m for m in marks if m.dealership_id == store_id]
        StaleMonth.objects.filter(pk__in=[m.pk for m in mine]).delete()
        start = engine.month_index(period)
        now_month = engine.month_index(timezone.now().astimezone(store.tzinfo).date())
        try:
            written += recompute(dealership_ids=[store_id],
                                 periods=[engine.month_date(m) for m in range(start, max(now_month, start) + 1)])
            written += _cohorts_refresh(store, before=start)
        except Exception:
            StaleMonth.objects.bulk_create([StaleMonth(dealership_id=store_id, period=m.period) for m in mine],
                                           ignore_conflicts=True)
            raise
    return written


# --- writes of the KPI-side reference tables: they change KPIs, so they mark the months stale ---

@transaction.atomic
def market_data_set(*, dealership: Dealership, period: dt.date, **fields: Any) -> MarketData:
    row, _created = MarketData.objects.update_or_create(dealership=dealership, period=period, defaults=fields)
    kpi_months_mark_stale(dealership=dealership, instants=[period])
    return row


@transaction.atomic
def market_data_delete(*, row: MarketData) -> None:
    kpi_months_mark_stale(dealership=row.dealership, instants=[row.period])
    row.delete()


def _mark_survey_stale(survey: str, period: dt.date) -> None:
    # A score moves every dealer's rank in that survey and month: mark each of our stores in it.
    codes = SatisfactionScore.objects.filter(survey=survey, period=period).values("dealer_code")
    for store in Dealership.objects.filter(code__in=codes):
        kpi_months_mark_stale(dealership=store, instants=[period])


@transaction.atomic
def satisfaction_score_set(*, survey: str, period: dt.date, dealer_code: str, **fields: Any) -> SatisfactionScore:
    row, _created = SatisfactionScore.objects.update_or_create(
        survey=survey, period=period, dealer_code=dealer_code, defaults=fields)
    _mark_survey_stale(survey, period)
    return row


@transaction.atomic
def satisfaction_score_delete(*, row: SatisfactionScore) -> None:
    _mark_survey_stale(row.survey, row.period)
    row.delete()


@transaction.atomic
def kpi_target_delete(*, target: KpiTarget) -> None:
    # Statuses are worked out when KPIs are read (with_targets), so no month goes stale.
    target.delete()

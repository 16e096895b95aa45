"""The benchmark data set: a large dealer group generated column-wise with numpy, streamed with COPY.

`load_demo --scale --stores 50 --months 36` gives about 2 M customers, 10 M service visits and 2 M
sales events (visits, test drives, orders). Each store is generated and written on its own (memory
stays flat), and within a store every table is a handful of numpy arrays: no Python loop per row.

The lifecycle is the one of customers.services, written in closed form for these simple lives (they
only move forward): a customer's `entered_<stage>_at` is the first event that reached that stage or a
later one, passages through skipped stages get a history row at the same instant, with the reason of
the event that caused the move; lost customers get their `lost` row. The demo (history.py) is the
place for the full rules; this is for volume.
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from aftersales.models import Callback, ServiceVisit
from aftersales.services import customers_first_dates_refresh, subjects_first_callback_refresh
from campaigns.models import Campaign, CampaignCost, TrafficPlan
from customers.models import Customer, StageChange
from customers.services import customers_stage_changed_refresh
from dealership.demo import params as P
from dealership.demo.history import month_starts, window_start
from dealership.demo.lifecycle import STAGES
from dealership.demo.writer import _defaults, analyze, next_id, reset_sequences
from dealership.models import DealerGroup, Dealership, User
from kpis.models import MarketData
from sales.models import Order, TestDrive, Visit

GROUP_NAME = "基准测试集团"  # the benchmark group: its stores are BM001...
DAY = np.timedelta64(86_400_000_000, "us")
SHARES = {"lead": 0.40, "owner": 0.40, "outside": 0.20}   # who the customers are
CONTACT, SECOND_VISIT, TEST_DRIVE, ORDER = 0.75, 0.30, 0.47, 0.34  # each conditional on the step before
SERVICE_PER_YEAR = 5.0   # high, to reach the spec's 10 M visits for 2 M customers
CHURN_PER_YEAR = 0.35
CALLBACK_DAYS = 3


@dataclass
class Result:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + n


def generate(*, stores: int, months: int, customers_per_store: int, seed: int = 42, password: str,
             callbacks: bool = True, progress: Callable[[str], None] = lambda m: None,
             now: dt.datetime | None = None) -> Result:
    """Write the benchmark group. Each store is its own transaction, so a long run shows progress."""
    codes = [f"BM{i + 1:03d}" for i in range(stores)]
    if Dealership.objects.filter(code__in=codes).exists():
        raise ValueError("The benchmark stores (BM001...) already exist: generate into an empty database.")
    now = now or timezone.now()
    start = window_start(now.astimezone(dt.UTC).date(), months)
    rng = np.random.default_rng(seed)
    result = Result()
    group, _ = DealerGroup.objects.get_or_create(name=GROUP_NAME)
    hashed = make_password(password)
    # One transaction: if anything fails, the indexes dropped below come back with the rollback.
    with transaction.atomic():
        _skip_fk_triggers()
        rebuild = _drop_indexes(BIG_TABLES)
        for i, code in enumerate(codes):
            store = Dealership.objects.create(group=group, code=code, name=f"基准{i + 1:03d}店", city="基准市",
                                              brand="丰田")
            _Store(store, start, now, customers_per_store, rng, hashed, callbacks, result).write()
            if (i + 1) % max(1, stores // 10) == 0 or i + 1 == stores:
                progress(f"{i + 1}/{stores} stores: " + ", ".join(f"{n} {t}" for t, n in result.counts.items()))
        if rebuild:
            progress(f"rebuilding {len(rebuild)} indexes and constraints")
            with connection.cursor() as cursor:
                for sql in rebuild:
                    cursor.execute(sql)
        progress("first delivery and service dates, latest stage change of the customers, first callbacks")
        customers_first_dates_refresh(Customer.objects.filter(dealership__code__in=codes))
        subjects_first_callback_refresh(orders=Order.objects.filter(dealership__code__in=codes),
                                        service_visits=ServiceVisit.objects.filter(dealership__code__in=codes))
        customers_stage_changed_refresh(Customer.objects.filter(dealership__code__in=codes))
        reset_sequences(BIG_TABLES)
        analyze([*BIG_TABLES, Campaign, CampaignCost, User, Dealership])
    return result


# ------------------------------------------------------------------------------------------ writing
BIG_TABLES = [Customer, StageChange, Visit, TestDrive, Order, ServiceVisit, Callback]


def _drop_indexes(models_: list[type[models.Model]]) -> list[str]:
    """On PostgreSQL, drop the secondary indexes and unique constraints of the big tables; return the SQL
    that rebuilds them. Building an index once over sorted data is far cheaper than updating it per row.
    Primary keys stay."""
    if connection.vendor != "postgresql":
        return []
    rebuild = []
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            # Not the unique constraints a foreign key refers to (the service visits' composite key
            # refers to the customers' (id, dealership)): they cannot be dropped under it.
            cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint u "
                           "WHERE conrelid = %s::regclass AND contype = 'u' AND NOT EXISTS "
                           "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = u.conindid)",
                           [table])
            for name, definition in cursor.fetchall():
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                rebuild.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                           "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", [table, table])
            for name, definition in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')
                rebuild.append(definition)
    return rebuild


def _skip_fk_triggers() -> None:
    """On PostgreSQL, as a superuser, skip the per-row foreign-key triggers for this transaction.

    The generated keys are consistent by construction (every id is handed out here), and the
    triggers more than double the time of a COPY. Without the privilege the checks simply run.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


def write_frame(model: type[models.Model], frame: pd.DataFrame) -> int:
    """COPY a frame (columns = the model's attnames) into its table; executemany where there is no COPY."""
    if frame.empty:
        return 0
    extra, values = _defaults(model, list(frame.columns))
    for name, value in zip(extra, values):
        frame[name] = value
    fields = {f.attname: f.column for f in model._meta.concrete_fields}
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(fields[c]) for c in frame.columns)
    if connection.vendor == "postgresql":
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False, na_rep=r"\N", float_format="%.2f")
        buf.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf)
        return len(frame)
    out = frame.astype(object)
    for name in frame.columns:
        kind = frame[name].dtype
        if isinstance(kind, pd.DatetimeTZDtype) or kind.kind == "M":
            text = frame[name].dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S.%f") \
                if isinstance(kind, pd.DatetimeTZDtype) else frame[name].dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            out[name] = text.astype(object).where(frame[name].notna(), None)
        elif kind.kind == "f":
            out[name] = frame[name].map(lambda v: None if pd.isna(v) else f"{v:.2f}")
        else:
            out[name] = frame[name].astype(object).where(frame[name].notna(), None)
    marks = ", ".join(["%s"] * len(frame.columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                           [tuple(r) for r in out.itertuples(index=False, name=None)])
    return len(frame)


def _ts(values: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True)) if values.dtype.kind == "M" else pd.Series(values)


def _ids(model: type[models.Model], n: int) -> np.ndarray:
    first = next_id(model)
    return np.arange(first, first + n, dtype=np.int64)


def _opt(ids: np.ndarray, mask: np.ndarray) -> pd.Series:
    """Nullable foreign keys: the id where the mask holds, NULL elsewhere."""
    return pd.Series(pd.array(np.where(mask, ids, 0), dtype="Int64")).mask(~pd.Series(mask))


class _Store:
    def __init__(self, store: Dealership, start: dt.date, now: dt.datetime, n: int, rng: np.random.Generator,
                 hashed: str, callbacks: bool, result: Result) -> None:
        self.store, self.n, self.rng, self.result = store, n, rng, result
        self.hashed, self.callbacks = hashed, callbacks
        self.t_start = np.datetime64(dt.datetime.combine(start, dt.time()), "us") - np.timedelta64(8, "h")
        self.t_now = np.datetime64(now.astimezone(dt.UTC).replace(tzinfo=None), "us")
        self.months = month_starts(start, now.date())

    def uniform_times(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        span = (hi - lo).astype(np.int64)
        return lo + (self.rng.random(len(lo)) * np.maximum(span, 0)).astype(np.int64).astype("timedelta64[us]")

    def after(self, t: np.ndarray, lo_days: float, hi_days: float) -> np.ndarray:
        days = self.rng.uniform(lo_days, hi_days, len(t))
        return t + (days * 86_400e6).astype(np.int64).astype("timedelta64[us]")

    def write(self) -> None:
        rng, n, sid = self.rng, self.n, self.store.pk
        staff = self.staff()
        consultants, advisors = staff["consultant"], staff["advisor"]
        campaign_ids = self.campaigns()
        kind = rng.choice(np.array(list(SHARES)), size=n, p=list(SHARES.values()))
        lead, owner, outside = kind == "lead", kind == "owner", kind == "outside"
        consultant = np.where(outside, 0, rng.choice(consultants, n))
        # Seasonality: leads arrive by month with the orders' index, spread within the month.
        weights = np.array([P.SEASON_ORDERS[m.month - 1] for m in self.months])
        month = rng.choice(len(self.months), n, p=weights / weights.sum())
        bounds = [*self.months, (self.months[-1] + dt.timedelta(days=32)).replace(day=1)]
        month_start = np.array([np.datetime64(m, "us") for m in bounds]) - np.timedelta64(8, "h")  # Beijing midnight
        created = self.uniform_times(month_start[month], np.minimum(month_start[month + 1], self.t_now))
        # Owners bought before the history (DMS import): ordered up to 5 years before it starts.
        bought = self.t_start - (rng.uniform(1, 5 * 365, n) * 86_400e6).astype(np.int64).astype("timedelta64[us]")
        created = np.where(owner, bought - (rng.uniform(7, 40, n) * 86_400e6).astype(np.int64).astype("timedelta64[us]"),
                           created)
        NAT = np.datetime64("NaT", "us")

        # --- the funnel of the leads ---
        contacted = lead & (rng.random(n) < CONTACT)
        contact_at = np.where(contacted, self.after(created, 0, 2), NAT)
        contact_kind = rng.choice(np.array(["showroom", "online", "phone_in", "offsite"]), n, p=[0.45, 0.35, 0.15, 0.05])
        second = contacted & (rng.random(n) < SECOND_VISIT)
        second_at = np.where(second, self.after(contact_at, 1, 14), NAT)
        drove = contacted & (rng.random(n) < TEST_DRIVE)
        drive_at = np.where(drove, self.after(contact_at, 0, 20), NAT)
        ordered = drove & (rng.random(n) < ORDER)
        order_at = np.where(ordered, self.after(drive_at, 1, 30), NAT)
        order_at = np.where(owner, bought, order_at)
        ordered = ordered | owner
        delay = np.minimum(rng.exponential(5.0, n), 30.0)
        delivered = np.where(ordered & (rng.random(n) >= P.CANCELLED_ORDERS),
                             order_at + (delay * 86_400e6).astype(np.int64).astype("timedelta64[us]") + np.timedelta64(2, "h"),
                             NAT)
        # What has not happened yet is not there.
        for arr in (contact_at, second_at, drive_at, order_at, delivered):
            arr[arr > self.t_now] = NAT
        contacted, second, drove = ~np.isnat(contact_at), ~np.isnat(second_at), ~np.isnat(drive_at)
        ordered, delivered_ok = ~np.isnat(order_at), ~np.isnat(delivered)
        created_ok = created <= self.t_now
        keep = created_ok  # customers created after now (none, by construction) are dropped
        last_sales = np.fmax.reduce([created, contact_at, second_at, drive_at, order_at, delivered])

        # Lost deals: leads who never ordered.
        lose_p = np.where(drove, P.LOST_TARGET, P.LOST_POTENTIAL)
        lost_at = np.where(contacted & ~ordered & (rng.random(n) < lose_p), self.after(last_sales, 7, 45), NAT)
        lost_at[lost_at > self.t_now] = NAT
        lost = ~np.isnat(lost_at)

        # --- service: owners, window buyers who come back, and cars bought elsewhere ---
        comes = (owner | (ordered & delivered_ok & (rng.random(n) < P.FIRST_SERVICE)) | outside)
        svc_from = np.where(owner | outside, self.t_start, self.after(delivered, *P.FIRST_SERVICE_DAYS))
        svc_from = np.where(outside, np.maximum(created, self.t_start), svc_from)
        life = (rng.exponential(1 / CHURN_PER_YEAR, n) * 365 * 86_400e6).astype(np.int64).astype("timedelta64[us]")
        svc_to = np.minimum(svc_from + life, self.t_now)
        active_years = np.where(comes & (svc_to > svc_from), (svc_to - svc_from) / DAY / 365, 0.0)
        rate = rng.gamma(4.0, SERVICE_PER_YEAR / 4.0, n)
        counts = rng.poisson(rate * active_years)
        counts[outside & (counts == 0) & comes] = 1  # an outside customer exists because he came once
        svc_cust = np.repeat(np.arange(n), counts)
        opened = self.uniform_times(svc_from[svc_cust], svc_to[svc_cust])
        # A car bought elsewhere: its warranty counts from a purchase date we do not know; draw one.
        car_from = np.where(outside, created - (rng.uniform(0, 6 * 365, n) * 86_400e6).astype(np.int64).astype("timedelta64[us]"),
                            delivered)
        in_warranty = opened < car_from[svc_cust] + np.timedelta64(365 * P.WARRANTY_YEARS, "D")
        svc_kind = rng.choice(np.array(list(P.SERVICE_MIX)), len(svc_cust), p=list(P.SERVICE_MIX.values()))
        svc_kind = np.where((svc_kind == "warranty") & ~in_warranty, "repair", svc_kind)
        hours = np.select([svc_kind == "maintenance", svc_kind == "accident"], [2.0, 96.0], 30.0)
        closed = opened + (rng.uniform(0.5, 1.5, len(svc_cust)) * hours * 3600e6).astype(np.int64).astype("timedelta64[us]")
        closed[closed > self.t_now] = np.datetime64("NaT")
        lo = np.array([P.SERVICE_REVENUE[k][0] for k in P.SERVICE_MIX])
        hi = np.array([P.SERVICE_REVENUE[k][1] for k in P.SERVICE_MIX])
        kind_idx = np.searchsorted(np.array(sorted(P.SERVICE_MIX)), svc_kind)
        order_of = np.argsort(np.array(list(P.SERVICE_MIX)))
        k = order_of[kind_idx]
        revenue = np.round(rng.uniform(lo[k], hi[k]), 0)
        advisor = rng.choice(advisors, len(svc_cust))

        # Stage moves by service: buyers only (owners and window buyers; outside cars stay put).
        buyer_visit = ordered[svc_cust] & (opened >= order_at[svc_cust])
        first_in = _first(svc_cust[buyer_visit & in_warranty], opened[buyer_visit & in_warranty], n)
        first_out = _first(svc_cust[buyer_visit & ~in_warranty], opened[buyer_visit & ~in_warranty], n)
        last_svc = _last(svc_cust, opened, n)

        # --- callbacks: after deliveries, and after closed service visits ---
        cb_sales = delivered_ok & (rng.random(n) < P.CALLBACK_DONE)
        cb_sales_at = self.after(delivered, 0.1, CALLBACK_DAYS + 0.5)
        cb_sales &= cb_sales_at <= self.t_now
        if self.callbacks:
            cb_svc = ~np.isnat(closed) & (rng.random(len(svc_cust)) < P.CALLBACK_DONE)
            cb_svc_at = self.after(closed, 0.1, CALLBACK_DAYS + 0.5)
            cb_svc &= cb_svc_at <= self.t_now
        else:
            cb_svc = np.zeros(len(svc_cust), bool)
            cb_svc_at = closed
        last_cb_svc = _last(svc_cust[cb_svc], cb_svc_at[cb_svc], n)

        # --- the customers' lifecycle columns ---
        e_market = created
        e_potential = np.where(owner, order_at, contact_at)
        e_target = np.where(owner, order_at, np.where(drove, drive_at, NAT))
        e_real = np.where(ordered, order_at, NAT)
        e_lifetime = np.fmin(first_in, first_out)
        e_loyal = first_out
        entered = [e_market, e_potential, e_target, e_real, e_lifetime, e_loyal]
        rank = np.zeros(n, np.int64)
        for i, col in enumerate(entered[1:], 1):
            rank = np.where(~np.isnat(col), i, rank)
        lost &= rank <= 2
        lost_at = np.where(lost, lost_at, NAT)
        last_contact = np.fmax.reduce([contact_at, second_at, drive_at, order_at, delivered,
                                       np.where(cb_sales, cb_sales_at, NAT), last_svc, last_cb_svc])

        cust_ids = _ids(Customer, n)
        phone = (13_000_000_000 + rng.integers(0, 6_999_999_999, n)).astype(str)
        surname = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"))
        given = np.array(list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"))
        names = pd.Series(surname[rng.integers(0, len(surname), n)]).str.cat(given[rng.integers(0, len(given), n)])
        source = np.where(owner, "walk_in", np.where(outside, "other", np.select(
            [contact_kind == "online", contact_kind == "phone_in", contact_kind == "offsite"],
            ["online", "phone", "event"], "walk_in")))
        camp_month = np.clip(month, 0, len(self.months) - 1)
        has_campaign = lead & (rng.random(n) < 0.5)
        campaign = campaign_ids[camp_month * 3 + rng.integers(0, 3, n)]
        stage = np.array(STAGES)[rank]
        customers = pd.DataFrame({
            "id": cust_ids, "dealership_id": sid, "name": names, "phone": phone, "source": source,
            "campaign_id": _opt(campaign, has_campaign), "consultant_id": _opt(consultant, ~outside),
            "referred_by_id": pd.array([None] * n, dtype="Int64"), "stage": stage,
            "intent": np.where(drove & ~ordered, "A", ""), "is_lost": lost,
            "lost_reason": np.where(lost, rng.choice(np.array(P.LOST_REASONS), n), ""),
            "lost_at": _ts(lost_at), "created_at": _ts(created),
            **{f"entered_{s}_at": _ts(col) for s, col in zip(STAGES, entered)},
            "last_contact_at": _ts(last_contact),
        })[keep]
        self.result.add("customers", write_frame(Customer, customers))

        # --- the stage history, in closed form ---
        reasons = [np.full(n, "created", object),
                   np.where(owner, "order", np.char.add("visit:", contact_kind.astype(str))).astype(object),
                   np.where(owner, "order", "test_drive").astype(object), np.full(n, "order", object),
                   np.where(first_out == e_lifetime, "service", "service_in_warranty").astype(object),
                   np.full(n, "service", object)]
        sales_by = _opt(consultant, ~outside)
        svc_by = pd.Series(pd.array(np.zeros(n, np.int64), dtype="Int64")).mask(pd.Series(np.ones(n, bool)))
        frames = []
        for i, (col, reason) in enumerate(zip(entered, reasons)):
            mask = ~np.isnat(col) & keep
            frames.append(pd.DataFrame({
                "customer_id": cust_ids[mask], "kind": "move", "from_stage": STAGES[i - 1] if i else "",
                "to_stage": STAGES[i], "at": _ts(col[mask]),
                "by_id": (sales_by if i < 4 else svc_by)[mask].reset_index(drop=True), "reason": reason[mask]}))
        frames.append(pd.DataFrame({
            "customer_id": cust_ids[lost], "kind": "lost", "from_stage": stage[lost], "to_stage": stage[lost],
            "at": _ts(lost_at[lost]), "by_id": sales_by[lost].reset_index(drop=True),
            "reason": customers["lost_reason"].to_numpy()[lost[keep]]}))
        changes = pd.concat(frames, ignore_index=True)
        changes.insert(0, "id", _ids(StageChange, len(changes)))
        self.result.add("stage_changes", write_frame(StageChange, changes))

        # --- sales records ---
        v1, v2 = contacted, second
        visits = pd.DataFrame({
            "customer_id": np.concatenate([cust_ids[v1], cust_ids[v2]]),
            "kind": np.concatenate([contact_kind[v1], np.full(v2.sum(), "showroom")]),
            "occurred_at": _ts(np.concatenate([contact_at[v1], second_at[v2]])),
            "campaign_id": pd.concat([_opt(campaign, has_campaign)[v1], _opt(campaign, has_campaign)[v2]],
                                     ignore_index=True),
            "consultant_id": np.concatenate([consultant[v1], consultant[v2]]),
            "invited": np.concatenate([has_campaign[v1], np.ones(v2.sum(), bool)]),
        })
        visits.insert(0, "dealership_id", sid)
        visits.insert(0, "id", _ids(Visit, len(visits)))
        self.result.add("visits", write_frame(Visit, visits))
        drives = pd.DataFrame({"id": _ids(TestDrive, drove.sum()), "dealership_id": sid,
                               "customer_id": cust_ids[drove], "consultant_id": consultant[drove],
                               "occurred_at": _ts(drive_at[drove]),
                               "model": rng.choice(np.array([m for m, _lo, _hi in P.CAR_MODELS]), drove.sum())})
        self.result.add("test_drives", write_frame(TestDrive, drives))
        model_idx = rng.integers(0, len(P.CAR_MODELS), n)
        low = np.array([lo_ for _m, lo_, _h in P.CAR_MODELS])[model_idx]
        high = np.array([h for _m, _l, h in P.CAR_MODELS])[model_idx]
        price = np.round(rng.triangular(low, low + (high - low) * 0.35, high), -2)
        order_ids = _ids(Order, ordered.sum())
        orders = pd.DataFrame({
            "id": order_ids, "dealership_id": sid, "customer_id": cust_ids[ordered],
            "consultant_id": consultant[ordered],
            "model": np.array([m for m, _l, _h in P.CAR_MODELS])[model_idx][ordered],
            "ordered_at": _ts(order_at[ordered]), "delivered_at": _ts(delivered[ordered]),
            "price": price[ordered], "gross_profit": np.round(price * rng.uniform(-0.08, 0.0, n), 2)[ordered],
            "oem_rebate": np.round(price * rng.normal(P.REBATE_MEAN, 0.008, n).clip(0), 2)[ordered],
        })
        self.result.add("orders", write_frame(Order, orders))

        # --- after-sales records ---
        svc_ids = _ids(ServiceVisit, len(svc_cust))
        services = pd.DataFrame({
            "id": svc_ids, "dealership_id": sid, "customer_id": cust_ids[svc_cust], "advisor_id": advisor,
            "vin": "", "kind": svc_kind, "opened_at": _ts(opened), "closed_at": _ts(closed),
            "revenue": revenue, "in_warranty": in_warranty})
        self.result.add("service_visits", write_frame(ServiceVisit, services))
        order_row = np.cumsum(ordered) - 1  # each customer's order's position among the orders
        sales_cb = cb_sales & ordered
        n_sales_cb, n_svc_cb = int(sales_cb.sum()), int(cb_svc.sum())
        callbacks = pd.DataFrame({
            "id": _ids(Callback, n_sales_cb + n_svc_cb), "dealership_id": sid,
            "order_id": pd.array(np.concatenate([order_ids[order_row[sales_cb]], np.zeros(n_svc_cb, np.int64)]),
                                 dtype="Int64"),
            "service_visit_id": pd.array(np.concatenate([np.zeros(n_sales_cb, np.int64), svc_ids[cb_svc]]),
                                         dtype="Int64"),
            "staff_id": np.concatenate([consultant[sales_cb], advisor[cb_svc]]),
            "completed_at": _ts(np.concatenate([cb_sales_at[sales_cb], cb_svc_at[cb_svc]])),
            "reached": rng.random(n_sales_cb + n_svc_cb) < P.CALLBACK_REACHED,
        })
        callbacks.loc[: n_sales_cb - 1, "service_visit_id"] = pd.NA
        callbacks.loc[n_sales_cb:, "order_id"] = pd.NA
        self.result.add("callbacks", write_frame(Callback, callbacks))

    def staff(self) -> dict[str, np.ndarray]:
        code = self.store.code.lower()
        roles = [("manager", 1), ("marketing", 2), ("consultant", P.CONSULTANTS_PER_STORE), ("advisor", 4)]
        users = [User(username=f"{code}_{role}{i + 1}", name=f"{role}{i + 1}", role=role, password=self.hashed,
                      dealership=self.store) for role, k in roles for i in range(k)]
        User.objects.bulk_create(users)
        found = User.objects.filter(dealership=self.store).values_list("role", "pk")
        out: dict[str, list[int]] = {}
        for role, pk in found:
            out.setdefault(role, []).append(pk)
        self.result.add("staff", len(users))
        return {role: np.array(pks) for role, pks in out.items()}

    def campaigns(self) -> np.ndarray:
        """Three campaigns a month (vertical media, social, an event), each with one cost entry."""
        rows = []
        for m in self.months:
            for channel, (_, cost, leads) in [(c, P.CAMPAIGNS[c]) for c in ("online_ads", "social", "event")]:
                ends = (m + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
                rows.append(Campaign(dealership=self.store, name=f"{m:%Y-%m} {channel}", channel=channel,
                                     starts_on=m, ends_on=ends, budget=cost, fixed_cost=cost, reach=leads * 50,
                                     inquiries=leads, planned_attendees=leads if channel == "event" else 0))
        created = Campaign.objects.bulk_create(rows)
        ids = np.array([c.pk for c in created]) if created[0].pk else np.array(
            Campaign.objects.filter(dealership=self.store).order_by("pk").values_list("pk", flat=True))
        CampaignCost.objects.bulk_create([CampaignCost(campaign_id=pk, incurred_on=c.starts_on, amount=c.fixed_cost,
                                                       category="媒体") for pk, c in zip(ids, rows)])
        TrafficPlan.objects.bulk_create([TrafficPlan(dealership=self.store, period=m,
                                                     planned_traffic=int(self.n / len(self.months) * 0.6))
                                         for m in self.months])
        MarketData.objects.bulk_create([MarketData(dealership=self.store, period=m, city_brand_sales=300,
                                                   city_brand_stores=4, market_parc=30_000) for m in self.months])
        self.result.add("campaigns", len(rows))
        return ids


def _first(owner: np.ndarray, times: np.ndarray, n: int) -> np.ndarray:
    """Per customer, the earliest of `times` (NaT where he has none)."""
    return _per_customer(np.minimum, np.iinfo(np.int64).max, owner, times, n)


def _last(owner: np.ndarray, times: np.ndarray, n: int) -> np.ndarray:
    return _per_customer(np.maximum, np.iinfo(np.int64).min, owner, times, n)


def _per_customer(ufunc: np.ufunc, empty: int, owner: np.ndarray, times: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, empty, np.int64)
    ufunc.at(out, owner, times.astype(np.int64))
    res = out.astype("datetime64[us]")
    res[out == empty] = np.datetime64("NaT")
    return res

"""Write a simulated History: the lifecycle applied in memory, then every table in bulk.

Rows get their primary keys here (from the table's current maximum), so that foreign keys are known
before anything is written and one table can be streamed after another. On PostgreSQL the big tables
go through COPY and the id sequences are moved past the new rows at the end; elsewhere bulk_create
in batches. Nothing goes through the services: `lifecycle.CustomerState` keeps their rules instead
(tests/demo proves both agree), and the KPI months are recomputed by the caller afterwards.
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from aftersales.models import Callback, ServiceVisit
from aftersales.services import customers_first_dates_refresh, subjects_first_callback_refresh
from campaigns.models import Campaign, CampaignCost, TrafficPlan
from customers.models import Customer, StageChange
from customers.services import customers_stage_changed_refresh
from dealership.demo.history import History
from dealership.demo.lifecycle import STAGES, CustomerState
from dealership.models import DealerGroup, Dealership, User
from kpis.models import MarketData, SatisfactionScore
from sales.models import Order, TestDrive, Visit

BATCH = 5000


@dataclass
class Written:
    """What was written: keys of the History → primary keys, and row counts per table."""

    stores: dict[int, int] = field(default_factory=dict)
    staff: dict[int, int] = field(default_factory=dict)
    campaigns: dict[int, int] = field(default_factory=dict)
    customers: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- bulk
def use_copy() -> bool:
    return connection.vendor == "postgresql"


def _defaults(model: type[models.Model], columns: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The model's other concrete columns and the value each gets when a row does not say."""
    now = timezone.now()
    names, values = [], []
    for f in model._meta.concrete_fields:
        if f.attname in columns:
            continue
        names.append(f.attname)
        values.append(now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default())
    return names, values


def _copy_value(v: Any) -> str:
    if v is None:
        return r"\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, str):
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(v)


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]],
              chunk: int = 50_000) -> int:
    """Stream rows into a PostgreSQL table with COPY, `chunk` rows at a time (memory stays flat)."""
    extra, extra_values = _defaults(model, columns)
    fields = {f.attname: f.column for f in model._meta.concrete_fields}
    sql_columns = ", ".join(connection.ops.quote_name(fields[c]) for c in [*columns, *extra])
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({sql_columns}) FROM STDIN"
    tail = "".join("\t" + _copy_value(v) for v in extra_values)
    total = 0
    buf = io.StringIO()
    n = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2's own cursor: Django's wrapper has no copy_expert
        for row in rows:
            buf.write("\t".join(map(_copy_value, row)))
            buf.write(tail)
            buf.write("\n")
            n += 1
            if n == chunk:
                buf.seek(0)
                raw.copy_expert(sql, buf)
                total, n, buf = total + n, 0, io.StringIO()
        if n:
            buf.seek(0)
            raw.copy_expert(sql, buf)
            total += n
    return total


def _sqlite_adapter(field: models.Field) -> Callable[[Any], Any]:
    # What field.get_db_prep_save does for SQLite, without its per-value cost: aware datetimes become
    # naive UTC text; Decimal, bool, int and str are adapted by the sqlite3 driver itself.
    if isinstance(field, models.DateTimeField):
        def adapt(v: dt.datetime | None) -> str | None:
            if v is None:
                return None
            if v.tzinfo is not dt.UTC:
                v = v.astimezone(dt.UTC)
            return str(v.replace(tzinfo=None))

        return adapt
    if isinstance(field, models.DateField):
        return lambda v: None if v is None else v.isoformat()
    return lambda v: v


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]],
                batch: int = BATCH) -> int:
    """Multi-row INSERTs through executemany, `batch` rows at a time (SQLite and other non-COPY databases).

    Model.objects.bulk_create does the same but builds a model instance and prepares every value
    through the field (~1 ms a row on a busy 2-core machine, with SQLite's 999-parameter batches).
    """
    extra, extra_values = _defaults(model, columns)
    fields = {f.attname: f for f in model._meta.concrete_fields}
    adapters = [_sqlite_adapter(fields[c]) for c in [*columns, *extra]]
    extra_values = [a(v) for a, v in zip(adapters[len(columns):], extra_values)]
    adapters = adapters[: len(columns)]
    names = ", ".join(connection.ops.quote_name(fields[c].column) for c in [*columns, *extra])
    marks = ", ".join(["%s"] * (len(columns) + len(extra)))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({names}) VALUES ({marks})"
    total, batch_rows = 0, []
    with connection.cursor() as cursor:
        for row in rows:
            batch_rows.append([a(v) for a, v in zip(adapters, row)] + extra_values)
            if len(batch_rows) == batch:
                cursor.executemany(sql, batch_rows)
                total, batch_rows = total + len(batch_rows), []
        if batch_rows:
            cursor.executemany(sql, batch_rows)
            total += len(batch_rows)
    return total


def write_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    return copy_rows(model, columns, rows) if use_copy() else insert_rows(model, columns, rows)


def next_id(model: type[models.Model]) -> int:
    """The first free primary key: ids are given out here so that foreign keys are known up front."""
    return (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1


def analyze(models_: Iterable[type[models.Model]]) -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL): the KPI recompute runs right after, before
    autovacuum would notice, and with empty-table statistics its joins become nested loops over millions."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models_:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def reset_sequences(models_: Iterable[type[models.Model]]) -> None:
    """After explicit ids, move PostgreSQL's id sequences past them (SQLite needs nothing)."""
    if connection.vendor != "postgresql":
        return
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models_)):
            cursor.execute(sql)


# --------------------------------------------------------------------------------------------- demo
def write_history(history: History, *, staff_password: str, admin_password: str | None = None,
                  progress: Callable[[str], None] = lambda msg: None) -> Written:
    """Write the whole history in one transaction: all of it, or nothing."""
    with transaction.atomic():
        out = Written()
        _write_setup(history, out, staff_password, admin_password)
        progress(f"stores, {len(out.staff)} staff, {len(out.campaigns)} campaigns")
        _write_records(history, out, progress)
        codes = [s.code for s in history.stores]
        written = Customer.objects.filter(dealership__code__in=codes)
        customers_first_dates_refresh(written)
        subjects_first_callback_refresh(orders=Order.objects.filter(dealership__code__in=codes),
                                        service_visits=ServiceVisit.objects.filter(dealership__code__in=codes))
        customers_stage_changed_refresh(written)
        tables = [DealerGroup, Dealership, User, Campaign, CampaignCost, Customer, StageChange, Visit,
                  TestDrive, Order, ServiceVisit, Callback]
        reset_sequences(tables)
        analyze(tables)
    return out


def _write_setup(history: History, out: Written, staff_password: str, admin_password: str | None) -> None:
    group, _ = DealerGroup.objects.get_or_create(name=history.group_name)
    for spec in history.stores:
        store = Dealership.objects.create(group=group, code=spec.code, name=spec.name, city=spec.city,
                                          brand="丰田", timezone=spec.timezone)
        out.stores[spec.key] = store.pk
    # One hash for every demo login: PBKDF2 costs ~0.3 s a call, and they share the password anyway.
    hashed = make_password(staff_password)
    base = next_id(User)
    users = []
    for i, s in enumerate(history.staff):
        out.staff[s.key] = base + i
        users.append(User(id=base + i, username=s.username, name=s.name, role=s.role, password=hashed,
                          dealership_id=out.stores[s.store] if s.store is not None else None,
                          group=group if s.store is None else None, is_staff=False))
    User.objects.bulk_create(users)
    reset_sequences([User])  # the superuser below takes its id from the sequence
    if admin_password and not User.objects.filter(username="admin").exists():
        User.objects.create_superuser(username="admin", password=admin_password, name="系统管理员", email="",
                                      role="manager")
    base = next_id(Campaign)
    campaigns, costs = [], []
    for i, c in enumerate(history.campaigns):
        out.campaigns[c.key] = base + i
        campaigns.append(Campaign(
            id=base + i, dealership_id=out.stores[c.store], name=c.name, channel=c.channel, starts_on=c.starts_on,
            ends_on=c.ends_on, budget=c.budget, fixed_cost=c.fixed_cost,
            variable_cost_per_attendee=c.variable_cost_per_attendee, reach=c.reach, inquiries=c.inquiries,
            invited=c.invited, planned_attendees=c.planned_attendees))
        costs += [CampaignCost(campaign_id=base + i, incurred_on=d, amount=a, category=cat) for d, a, cat in c.costs]
    Campaign.objects.bulk_create(campaigns, batch_size=BATCH)
    CampaignCost.objects.bulk_create(costs, batch_size=BATCH)
    TrafficPlan.objects.bulk_create([TrafficPlan(dealership_id=out.stores[s], period=p, planned_traffic=n)
                                     for s, p, n in history.traffic_plans])
    MarketData.objects.bulk_create([MarketData(dealership_id=out.stores[s], period=p, city_brand_sales=n,
                                               city_brand_stores=k, market_parc=parc)
                                    for s, p, n, k, parc in history.market_data])
    existing = set(SatisfactionScore.objects.values_list("survey", "period", "dealer_code"))
    SatisfactionScore.objects.bulk_create(
        [SatisfactionScore(survey=sv, period=p, region=r, dealer_code=code, dealer_name=name, score=score)
         for sv, p, r, code, name, score in history.surveys if (sv, p, code) not in existing], batch_size=BATCH)
    out.counts.update(staff=len(users), campaigns=len(campaigns), campaign_costs=len(costs))


CUSTOMER_COLUMNS = ["id", "dealership_id", "name", "phone", "source", "campaign_id", "consultant_id",
                    "referred_by_id", "stage", "intent", "is_lost", "lost_reason", "lost_at", "created_at",
                    *[f"entered_{s}_at" for s in STAGES], "last_contact_at"]
STAGE_CHANGE_COLUMNS = ["id", "customer_id", "kind", "from_stage", "to_stage", "at", "by_id", "reason"]
VISIT_COLUMNS = ["id", "dealership_id", "customer_id", "kind", "occurred_at", "campaign_id", "consultant_id", "invited"]
TEST_DRIVE_COLUMNS = ["id", "dealership_id", "customer_id", "consultant_id", "occurred_at", "model"]
ORDER_COLUMNS = ["id", "dealership_id", "customer_id", "consultant_id", "model", "ordered_at", "delivered_at",
                 "price", "gross_profit", "oem_rebate", "campaign_id"]
SERVICE_COLUMNS = ["id", "dealership_id", "customer_id", "advisor_id", "vin", "kind", "opened_at", "closed_at",
                   "revenue", "in_warranty"]
CALLBACK_COLUMNS = ["id", "dealership_id", "order_id", "service_visit_id", "staff_id", "completed_at", "reached"]


def _write_records(history: History, out: Written, progress: Callable[[str], None]) -> None:
    staff, stores, campaigns = out.staff, out.stores, out.campaigns
    specs = {c.key: c for c in history.customers}
    ids = {name: next_id(model) for name, model in [("customer", Customer), ("visit", Visit),
           ("test_drive", TestDrive), ("order", Order), ("service", ServiceVisit), ("callback", Callback)]}
    states: dict[int, CustomerState] = {}
    created: dict[int, dt.datetime] = {}
    visits, drives, callbacks, services = [], [], [], []
    orders: dict[int, list] = {}
    service_ids: dict[int, int] = {}

    def sid(key: int | None) -> int | None:
        return staff[key] if key is not None else None

    def cid(key: int | None) -> int | None:
        return out.customers.get(key) if key is not None else None

    for e in history.events:
        st, d = states.get(e.customer), e.data
        kind = e.kind
        if kind == "create":
            out.customers[e.customer] = ids["customer"] + len(states)
            st = states[e.customer] = CustomerState()
            created[e.customer] = e.at
            st.create(at=e.at, by=sid(d["by"]))
        elif kind == "visit":
            visits.append((ids["visit"] + len(visits), stores[e.store], cid(e.customer), d["kind"], e.at,
                           campaigns.get(d["campaign"]), sid(d["consultant"]), d["invited"]))
            if st is not None:
                st.visit(at=e.at, kind=d["kind"], by=sid(d["consultant"]))
        elif kind == "test_drive":
            drives.append((ids["test_drive"] + len(drives), stores[e.store], cid(e.customer), sid(d["consultant"]),
                           e.at, d["model"]))
            st.test_drive(at=e.at, by=sid(d["consultant"]))
        elif kind == "order":
            orders[e.key] = [ids["order"] + len(orders), stores[e.store], cid(e.customer), sid(d["consultant"]),
                             d["model"], e.at, None, d["price"], d["gross_profit"], d["oem_rebate"],
                             campaigns.get(d["campaign"])]
            st.order(at=e.at, by=sid(d["consultant"]))
        elif kind == "deliver":
            orders[e.key][6] = e.at
            st.touch(e.at)
        elif kind == "service":
            service_ids[e.key] = ids["service"] + len(services)
            services.append((service_ids[e.key], stores[e.store], cid(e.customer), sid(d["advisor"]), d["vin"],
                             d["kind"], e.at, d["closed_at"], d["revenue"], d["in_warranty"]))
            st.service(at=e.at, in_warranty=d["in_warranty"], by=sid(d["advisor"]))
        elif kind == "callback":
            order_id = orders[d["order"]][0] if d["order"] else None
            callbacks.append((ids["callback"] + len(callbacks), stores[e.store], order_id,
                              service_ids.get(d["service_visit"]), sid(d["staff"]), e.at, d["reached"]))
            st.touch(e.at)
        elif kind == "lost":
            st.mark_lost(reason=d["reason"], at=e.at, by=sid(d["by"]))
        elif kind == "reactivate":
            st.reactivate(at=e.at, by=sid(d["by"]))
        elif kind == "move":
            st.move(d["stage"], at=e.at, by=sid(d["by"]))
        else:  # pragma: no cover - a new event kind must be taught to the writer
            raise ValueError(f"unknown event kind {kind!r}")

    def customer_rows():
        for key, st in states.items():
            s = specs[key]
            yield (out.customers[key], stores[s.store], s.name, s.phone, s.source, campaigns.get(s.campaign),
                   sid(s.consultant), cid(s.referred_by), st.stage, s.intent, st.is_lost, st.lost_reason,
                   st.lost_at, created[key], *[st.entered.get(stage) for stage in STAGES], st.last_contact_at)

    def change_rows():
        n = next_id(StageChange)
        for key, st in states.items():
            customer = out.customers[key]
            for kind, a, b, at, by, reason in st.changes:
                yield (n, customer, kind, a, b, at, by, reason)
                n += 1

    counts = out.counts
    counts["customers"] = write_rows(Customer, CUSTOMER_COLUMNS, customer_rows())
    progress(f"{counts['customers']} customers")
    counts["stage_changes"] = write_rows(StageChange, STAGE_CHANGE_COLUMNS, change_rows())
    counts["visits"] = write_rows(Visit, VISIT_COLUMNS, visits)
    counts["test_drives"] = write_rows(TestDrive, TEST_DRIVE_COLUMNS, drives)
    counts["orders"] = write_rows(Order, ORDER_COLUMNS, orders.values())
    progress(f"{counts['stage_changes']} stage changes, {counts['visits']} visits, "
             f"{counts['test_drives']} test drives, {counts['orders']} orders")
    counts["service_visits"] = write_rows(ServiceVisit, SERVICE_COLUMNS, services)
    counts["callbacks"] = write_rows(Callback, CALLBACK_COLUMNS, callbacks)
    progress(f"{counts['service_visits']} service visits, {counts['callbacks']} callbacks")


def money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")

"""The row-by-row import: every row is checked, its references found in bulk, and then each row goes
through the owning app's service, in the rows' own time order, inside one transaction.

This is the reference behaviour (an imported event does exactly what the same event entered live does);
imports.copy_path must give the same result for service visits and is tested against it.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aftersales.models import Callback, ServiceVisit
from aftersales.services import callback_create, service_visit_create
from campaigns.models import Campaign, CampaignCost, TrafficPlan
from campaigns.services import campaign_cost_create, campaign_create, traffic_plan_set
from customers.models import Customer, Source, Stage
from customers.services import customer_create, customer_mark_lost, customer_update, normalize_phone
from dealership.models import Dealership, User
from dealership.services import kpi_months_mark_stale
from imports.kinds import CellError, Column, Kind
from imports.readers import Table
from kpis.models import MarketData, SatisfactionScore
from sales.models import Order, TestDrive, Visit
from sales.services import order_create, test_drive_create, visit_create

if TYPE_CHECKING:
    from imports.services import Progress, Report

SAMPLE_SIZE = 10


@dataclass
class Row:
    number: int
    cells: list[Any]
    values: dict[str, Any] = field(default_factory=dict)
    store: Dealership | None = None
    refs: dict[str, Any] = field(default_factory=dict)
    existing: Any = None


# --- the row-by-row path -----------------------------------------------------------------------

def import_rows(*, table: Table, columns: list[Column | None], spec: Kind, report: Report,
                 default_store: Dealership | None, stores: dict[str, Dealership], user: User | None,
                 dry_run: bool, progress: Progress) -> Iterable[tuple[int, list[str]]] | None:
    rows: list[Row] = []
    problems: dict[int, list[str]] = defaultdict(list)

    def fail(row: Row | None, column: str, message: str) -> None:
        report.error(row.number if row else None, column, message)
        if row is not None:
            problems[row.number].append(f"{column}: {message}" if column else message)

    header_of = {c.field: h for c, h in zip(columns, table.headers) if c}
    for number, cells in table.rows:
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue  # Excel leaves empty rows behind
        row = Row(number=number, cells=cells)
        for column, cell in zip(columns, cells):
            if column is None:
                continue
            try:
                row.values[column.field] = column.parse(cell)
            except CellError as exc:
                fail(row, header_of[column.field], str(exc))
                continue
            if column.required and row.values[column.field] in (None, ""):
                fail(row, header_of[column.field], _("Required."))
        for column in spec.columns:  # a required cell of a short row is missing too
            if column.required and column.field in header_of and column.field not in row.values \
                    and not any(p.startswith(header_of[column.field]) for p in problems[row.number]):
                fail(row, header_of[column.field], _("Required."))
        rows.append(row)
        if len(rows) % 500 == 0:
            progress(0.5 * table.fraction())
    report.rows = len(rows)
    if not rows:
        report.error(None, "", _("The file has a header row but no data rows."))
        return []
    _resolve(spec, rows, header_of, default_store, stores, fail)
    progress(0.5)
    if not report.ok:
        return sorted(problems.items())
    report.created = sum(1 for r in rows if r.existing is None)
    report.updated = len(rows) - report.created
    report.sample = [{"row": r.number, "action": _("update") if r.existing is not None else _("create"),
                      "values": {header_of[f]: _show(v) for f, v in r.values.items() if v not in (None, "")}}
                     for r in rows[:SAMPLE_SIZE]]
    missing_ids = sum(1 for r in rows if "external_id" in header_of and not r.values.get("external_id"))
    if spec.name in ("visits", "test_drives", "orders", "service_visits", "callbacks") and \
            ("external_id" not in header_of or missing_ids):
        report.warnings.append(_("%(n)d rows have no external id: importing this file again would add them again.")
                               % {"n": missing_ids or len(rows)})
    if dry_run:
        return None
    writer = WRITERS[spec.name]
    ordered = sorted(rows, key=lambda r: _time_key(r, spec))
    current: Row | None = None
    try:
        with transaction.atomic():
            deferred = []
            for done, current in enumerate(ordered, start=1):
                deferred.append(writer(current, user))
                if done % 200 == 0:
                    progress(0.5 + 0.5 * done / len(ordered))
            current = None
            for step in filter(None, deferred):
                step()
            _mark_stale_once(rows, spec)
    except ValidationError as exc:
        _service_refused(exc, current, header_of, fail)
        report.created = report.updated = 0
        return sorted(problems.items())
    progress(1.0)
    return None


def _service_refused(exc: ValidationError, row: Row | None, header_of: dict[str, str], fail) -> None:
    # Validation first should have caught it; if a service still refuses, the transaction is undone
    # and the row is reported like any other bad row.
    details = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
    for name, messages in details.items():
        for message in messages:
            fail(row, header_of.get(name, name if name != "__all__" else ""), message)


def _time_key(row: Row, spec: Kind) -> tuple:
    value = row.values.get(spec.time_field) if spec.time_field else None
    if isinstance(value, dt.datetime):
        return (0, value.timestamp(), row.number)
    if isinstance(value, dt.date):
        return (0, dt.datetime.combine(value, dt.time()).timestamp(), row.number)
    return (1, 0, row.number)


def _show(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    return str(value)


def _mark_stale_once(rows: list[Row], spec: Kind) -> None:
    # The services mark each row's months (their own recompute dispatches are debounced into one);
    # kinds written here directly mark without dispatch, so one dispatch per store is made here.
    first: dict[int, Row] = {}
    for row in rows:
        if row.store is not None:
            first.setdefault(row.store.pk, row)
    for row in first.values():
        instant = row.values.get(spec.time_field) if spec.time_field else None
        if instant is not None:
            kpi_months_mark_stale(dealership=row.store, instants=[instant], dispatch=True)


# --- references, resolved in bulk ----------------------------------------------------------------

def _chunks(items: list, size: int = 900) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _by_store(model, key: str, wanted: dict[int, set[str]], extra: dict | None = None) -> dict[tuple[int, str], Any]:
    """{(store id, key value): object} for the keys a file names, a few queries whatever the file size."""
    found: dict[tuple[int, str], Any] = {}
    for store_id, values in wanted.items():
        for chunk in _chunks(sorted(values)):
            qs = model.objects.filter(**{"dealership_id": store_id, f"{key}__in": chunk, **(extra or {})})
            for obj in qs.order_by("-id"):  # the oldest wins a tie (as customer_find_by_phone)
                found[(store_id, getattr(obj, key))] = obj
    return found


def _resolve(spec: Kind, rows: list[Row], header_of: dict[str, str], default_store: Dealership | None,
             stores: dict[str, Dealership], fail) -> None:
    store_header = header_of.get("dealership", "dealership")
    for row in rows:
        if not spec.store_column:
            continue
        code = row.values.get("dealership")
        if code:
            row.store = stores.get(code)
            if row.store is None:
                fail(row, store_header, _("Unknown store code %(code)s (or not yours).") % {"code": code})
        elif default_store is not None:
            row.store = default_store
        else:
            fail(row, store_header, _("Required."))
        if row.store is not None:
            for name, value in row.values.items():
                if isinstance(value, dt.datetime) and value.tzinfo is None:
                    # A naive time is the store's own local time (api.md).
                    row.values[name] = value.replace(tzinfo=row.store.tzinfo)
    good = [r for r in rows if r.store is not None or not spec.store_column]
    RESOLVERS[spec.name](good, header_of, fail)


def _wanted(rows: list[Row], name: str, normalize: Callable[[str], str] = str) -> dict[int, set[str]]:
    wanted: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        value = row.values.get(name)
        if value:
            wanted[row.store.pk].add(normalize(value))
    return wanted


def _phone(row: Row, name: str, header_of: dict[str, str], fail) -> str:
    try:
        return normalize_phone(row.values.get(name))
    except ValidationError as exc:
        fail(row, header_of[name], exc.message_dict["phone"][0])
        return ""


def _refs_staff(rows: list[Row], header_of: dict[str, str], fail, *names: str) -> None:
    for name in names:
        if name not in header_of:
            continue
        wanted = _wanted(rows, name)
        found: dict[tuple[int, str], User] = {}
        for store_id, values in wanted.items():
            for user in User.objects.filter(dealership_id=store_id, username__in=values):
                found[(store_id, user.username)] = user
        for row in rows:
            value = row.values.get(name)
            if value:
                row.refs[name] = found.get((row.store.pk, value))
                if row.refs[name] is None:
                    fail(row, header_of[name], _("Unknown user %(value)s in this store.") % {"value": value})


def _refs_campaign(rows: list[Row], header_of: dict[str, str], fail, name: str = "campaign") -> None:
    if name not in header_of:
        return
    found = _by_store(Campaign, "external_id", _wanted(rows, name))
    for row in rows:
        value = row.values.get(name)
        if value:
            row.refs[name] = found.get((row.store.pk, value))
            if row.refs[name] is None:
                fail(row, header_of[name], _("Unknown campaign %(value)s in this store.") % {"value": value})


def _refs_customer(rows: list[Row], header_of: dict[str, str], fail, *, required: bool) -> None:
    for row in rows:
        row.values["customer_phone"] = _phone(row, "customer_phone", header_of, fail) \
            if "customer_phone" in header_of else ""
    by_id = _by_store(Customer, "external_id", _wanted(rows, "customer"))
    by_phone = _by_store(Customer, "phone", _wanted(rows, "customer_phone"))
    for row in rows:
        ext, phone = row.values.get("customer"), row.values.get("customer_phone")
        if ext:
            row.refs["customer"] = by_id.get((row.store.pk, ext))
            if row.refs["customer"] is None:
                fail(row, header_of["customer"], _("Unknown customer %(value)s in this store.") % {"value": ext})
        elif phone:
            row.refs["customer"] = by_phone.get((row.store.pk, phone))
            if row.refs["customer"] is None:
                fail(row, header_of["customer_phone"],
                     _("No customer with phone %(value)s in this store.") % {"value": phone})
        elif required:
            fail(row, header_of.get("customer", header_of.get("customer_phone", "customer")),
                 _("Give the customer: its external id or its phone."))


def _existing(model, rows: list[Row], header_of: dict[str, str], fail, key: str = "external_id") -> None:
    """Find the records the rows update, and refuse the same key twice in one file."""
    first_row: dict[tuple, int] = {}
    for row in rows:
        value = row.values.get(key)
        if not value:
            continue
        scope = (row.store.pk if row.store else None, row.refs.get("campaign").pk
                 if model is CampaignCost and row.refs.get("campaign") else None)
        if (scope, value) in first_row:
            fail(row, header_of[key], _("%(value)s is also on row %(row)d.")
                 % {"value": value, "row": first_row[(scope, value)]})
        else:
            first_row[(scope, value)] = row.number
    if model is CampaignCost:
        for row in rows:
            campaign, value = row.refs.get("campaign"), row.values.get(key)
            if campaign is not None and value:
                row.existing = CampaignCost.objects.filter(campaign=campaign, external_id=value).first()
        return
    found = _by_store(model, key, _wanted(rows, key))
    for row in rows:
        value = row.values.get(key)
        if value:
            row.existing = found.get((row.store.pk, value))


def _resolve_customers(rows: list[Row], header_of: dict[str, str], fail) -> None:
    for row in rows:
        row.values["phone"] = _phone(row, "phone", header_of, fail) if "phone" in header_of else ""
        if not row.values.get("external_id") and not row.values.get("phone"):
            fail(row, header_of.get("external_id", header_of.get("phone", "")),
                 _("Give the customer an external id or a phone, so that a second import finds it again."))
        if row.values.get("is_lost") and not row.values.get("lost_reason"):
            fail(row, header_of.get("lost_reason", "lost_reason"), _("Say why the deal was lost."))
    _existing(Customer, rows, header_of, fail)
    by_phone = _by_store(Customer, "phone", _wanted([r for r in rows if r.existing is None], "phone"))
    first_phone: dict[tuple[int, str], int] = {}
    for row in rows:
        phone = row.values.get("phone")
        if not phone:
            continue
        if (row.store.pk, phone) in first_phone:
            fail(row, header_of["phone"], _("%(value)s is also on row %(row)d.")
                 % {"value": phone, "row": first_phone[(row.store.pk, phone)]})
        first_phone[(row.store.pk, phone)] = row.number
        if row.existing is None:
            row.existing = by_phone.get((row.store.pk, phone))
    _refs_campaign(rows, header_of, fail)
    _refs_staff(rows, header_of, fail, "consultant")
    if "referred_by" in header_of:
        found = _by_store(Customer, "external_id", _wanted(rows, "referred_by"))
        in_file = {(r.store.pk, r.values["external_id"]) for r in rows if r.values.get("external_id")}
        for row in rows:
            value = row.values.get("referred_by")
            if value and (row.store.pk, value) not in found and (row.store.pk, value) not in in_file:
                fail(row, header_of["referred_by"], _("Unknown customer %(value)s in this store.") % {"value": value})
            row.refs["referred_by"] = found.get((row.store.pk, value)) if value else None


def _resolve_event(model, *, customer_required: bool, staff: str, campaign: bool = False,
                   before: tuple[str, str, str] | None = None) -> Callable:
    """Visits, test drives, orders and service visits: the same references, and one order of times."""
    def resolve(rows: list[Row], header_of: dict[str, str], fail) -> None:
        _existing(model, rows, header_of, fail)
        _refs_customer(rows, header_of, fail, required=customer_required)
        if campaign:
            _refs_campaign(rows, header_of, fail)
        _refs_staff(rows, header_of, fail, staff)
        if before is not None:
            first, then, message = before
            for row in rows:
                start, end = row.values.get(first), row.values.get(then)
                if start and end and end < start:
                    fail(row, header_of[then], _(message))
    return resolve


_resolve_visits = _resolve_event(Visit, customer_required=False, staff="consultant", campaign=True)
_resolve_test_drives = _resolve_event(TestDrive, customer_required=True, staff="consultant")
_resolve_orders = _resolve_event(Order, customer_required=True, staff="consultant", campaign=True, before=(
    "ordered_at", "delivered_at", gettext_noop("A car cannot be delivered before it was ordered.")))
_resolve_service_visits = _resolve_event(ServiceVisit, customer_required=True, staff="advisor", before=(
    "opened_at", "closed_at", gettext_noop("A repair order cannot close before it was opened.")))


def _resolve_callbacks(rows, header_of, fail) -> None:
    _existing(Callback, rows, header_of, fail)
    _refs_staff(rows, header_of, fail, "staff")
    orders = _by_store(Order, "external_id", _wanted(rows, "order")) if "order" in header_of else {}
    visits = _by_store(ServiceVisit, "external_id", _wanted(rows, "service_visit")) \
        if "service_visit" in header_of else {}
    for row in rows:
        order, visit = row.values.get("order"), row.values.get("service_visit")
        if bool(order) == bool(visit):
            fail(row, header_of.get("order", header_of.get("service_visit")),
                 _("A callback is about exactly one delivery or one service visit."))
            continue
        if order:
            row.refs["order"] = orders.get((row.store.pk, order))
            if row.refs["order"] is None:
                fail(row, header_of["order"], _("Unknown order %(value)s in this store.") % {"value": order})
        else:
            row.refs["service_visit"] = visits.get((row.store.pk, visit))
            if row.refs["service_visit"] is None:
                fail(row, header_of["service_visit"],
                     _("Unknown service visit %(value)s in this store.") % {"value": visit})


def _resolve_campaigns(rows, header_of, fail) -> None:
    _existing(Campaign, rows, header_of, fail)
    for row in rows:
        starts, ends = row.values.get("starts_on"), row.values.get("ends_on")
        if starts and ends and ends < starts:
            fail(row, header_of["ends_on"], _("A campaign cannot end before it starts."))
        if row.values.get("contribution_per_deal") == 0:
            fail(row, header_of["contribution_per_deal"], _("Leave it empty or give a positive amount."))


def _resolve_campaign_costs(rows, header_of, fail) -> None:
    _refs_campaign(rows, header_of, fail)
    _existing(CampaignCost, rows, header_of, fail)


def _natural(model, rows: list[Row], header_of: dict[str, str], fail, keys: tuple[str, ...], store: bool = True):
    """Kinds without external id are keyed by store and month (or survey, month and dealer)."""
    first: dict[tuple, int] = {}
    for row in rows:
        key = tuple(row.values.get(k) for k in keys) + ((row.store.pk,) if store else ())
        if None in key:
            continue
        if key in first:
            fail(row, header_of[keys[0]], _("The same %(what)s is also on row %(row)d.")
                 % {"what": " + ".join(header_of[k] for k in keys), "row": first[key]})
        first[key] = row.number
        lookup = {k: row.values[k] for k in keys} | ({"dealership": row.store} if store else {})
        row.existing = model.objects.filter(**lookup).first()


def _resolve_traffic_plans(rows, header_of, fail) -> None:
    _natural(TrafficPlan, rows, header_of, fail, ("period",))


def _resolve_market_data(rows, header_of, fail) -> None:
    _natural(MarketData, rows, header_of, fail, ("period",))


def _resolve_satisfaction_scores(rows, header_of, fail) -> None:
    _natural(SatisfactionScore, rows, header_of, fail, ("survey", "period", "dealer_code"), store=False)


RESOLVERS: dict[str, Callable] = {
    "customers": _resolve_customers, "visits": _resolve_visits, "test_drives": _resolve_test_drives,
    "orders": _resolve_orders, "service_visits": _resolve_service_visits, "callbacks": _resolve_callbacks,
    "campaigns": _resolve_campaigns, "campaign_costs": _resolve_campaign_costs,
    "traffic_plans": _resolve_traffic_plans, "market_data": _resolve_market_data,
    "satisfaction_scores": _resolve_satisfaction_scores,
}


# --- writers: one service call per row ---------------------------------------------------------

def _given(row: Row, *names: str) -> dict[str, Any]:
    """The values of the columns the file has, so that an update leaves the other fields alone."""
    return {n: row.values[n] for n in names if n in row.values and row.values[n] is not None}


def _write_customer(row: Row, user: User | None) -> Callable[[], None] | None:
    v = row.values
    refs = {n: row.refs.get(n) for n in ("campaign", "consultant") if n in row.refs or n in v}
    later = None
    if "referred_by" in v:
        ref = v.get("referred_by")
        refs["referred_by"] = row.refs.get("referred_by") or (
            Customer.objects.filter(dealership=row.store, external_id=ref).first() if ref else None)
        if ref and refs["referred_by"] is None:
            # The referrer is further down the file (rows go in time order): link them once all exist.
            def later() -> None:
                customer_update(customer=customer, by=user, referred_by=Customer.objects.get(
                    dealership=row.store, external_id=ref))
    if row.existing is None:
        customer = customer_create(
            dealership=row.store, external_id=v.get("external_id") or None, name=v.get("name") or "",
            phone=v.get("phone") or "", source=v.get("source") or Source.OTHER, stage=v.get("stage") or Stage.MARKET,
            intent=v.get("intent") or "", notes=v.get("notes") or "", created_at=v.get("created_at"), by=user,
            **refs)
    else:
        fields = _given(row, "name", "source", "intent", "notes") | refs
        if v.get("phone"):
            fields["phone"] = v["phone"]
        if v.get("external_id") and not row.existing.external_id:
            fields["external_id"] = v["external_id"]
        customer = customer_update(customer=row.existing, by=user, **fields) if fields else row.existing
    if v.get("is_lost"):
        customer.refresh_from_db()
        if not customer.is_lost:
            customer_mark_lost(customer=customer, reason=v["lost_reason"], at=v.get("lost_at") or v.get("created_at"),
                               by=user)
    return later


def _write_visit(row: Row, user: User | None) -> None:
    v = row.values
    visit_create(dealership=row.store, kind=v["kind"], occurred_at=v["occurred_at"], customer=row.refs.get("customer"),
                 campaign=row.refs.get("campaign"), consultant=row.refs.get("consultant"),
                 invited=bool(v.get("invited")), notes=v.get("notes") or "", external_id=v.get("external_id") or None,
                 by=user)


def _write_test_drive(row: Row, user: User | None) -> None:
    v = row.values
    test_drive_create(customer=row.refs["customer"], occurred_at=v["occurred_at"],
                      consultant=row.refs.get("consultant"),
                      model=v.get("model") or "", external_id=v.get("external_id") or None, by=user)


def _write_order(row: Row, user: User | None) -> None:
    v = row.values
    order_create(customer=row.refs["customer"], ordered_at=v["ordered_at"], consultant=row.refs.get("consultant"),
                 model=v.get("model") or "", price=v.get("price") or Decimal("0"),
                 gross_profit=v.get("gross_profit") or Decimal("0"), oem_rebate=v.get("oem_rebate") or Decimal("0"),
                 campaign=row.refs.get("campaign"), delivered_at=v.get("delivered_at"),
                 external_id=v.get("external_id") or None, by=user)


def _write_service_visit(row: Row, user: User | None) -> None:
    v = row.values
    service_visit_create(customer=row.refs["customer"], opened_at=v["opened_at"], closed_at=v.get("closed_at"),
                         advisor=row.refs.get("advisor"), vin=v.get("vin") or "", kind=v.get("kind") or "maintenance",
                         revenue=v.get("revenue") or Decimal("0"), in_warranty=bool(v.get("in_warranty")),
                         external_id=v.get("external_id") or None, by=user)


def _write_callback(row: Row, user: User | None) -> None:
    v = row.values
    callback_create(order=row.refs.get("order"), service_visit=row.refs.get("service_visit"),
                    staff=row.refs.get("staff"), completed_at=v["completed_at"], reached=bool(v.get("reached")),
                    notes=v.get("notes") or "", external_id=v.get("external_id") or None)


_CAMPAIGN_DEFAULTS = {"cycle_days": 30, "budget": Decimal("0"), "fixed_cost": Decimal("0"),
                      "variable_cost_per_attendee": Decimal("0"), "contribution_per_deal": None, "reach": 0,
                      "inquiries": 0, "invited": 0, "planned_attendees": 0}


def _write_campaign(row: Row, user: User | None) -> None:
    fields = _given(row, "name", "channel", "starts_on", "ends_on", *_CAMPAIGN_DEFAULTS)
    if row.existing is None:
        fields = {k: v for k, v in _CAMPAIGN_DEFAULTS.items() if v is not None} | fields
    campaign_create(dealership=row.store, external_id=row.values.get("external_id") or None, **fields)


def _write_campaign_cost(row: Row, user: User | None) -> None:
    v = row.values
    campaign_cost_create(campaign=row.refs["campaign"], incurred_on=v["incurred_on"], amount=v["amount"],
                         category=v.get("category") or "", external_id=v.get("external_id") or None)


def _write_traffic_plan(row: Row, user: User | None) -> None:
    traffic_plan_set(dealership=row.store, period=row.values["period"], planned_traffic=row.values["planned_traffic"])


def _write_market_data(row: Row, user: User | None) -> None:
    # No other app writes market data yet; it is a single upsert, kept here with its stale mark.
    v = row.values
    MarketData.objects.update_or_create(
        dealership=row.store, period=v["period"],
        defaults={"city_brand_sales": v["city_brand_sales"], "city_brand_stores": v["city_brand_stores"],
                  **({"market_parc": v["market_parc"]} if v.get("market_parc") is not None else {})})
    kpi_months_mark_stale(dealership=row.store, instants=[v["period"]], dispatch=False)


def _write_satisfaction_score(row: Row, user: User | None) -> None:
    v = row.values
    SatisfactionScore.objects.update_or_create(
        survey=v["survey"], period=v["period"], dealer_code=v["dealer_code"],
        defaults={"score": v["score"], **_given(row, "region", "dealer_name")})
    # A rank depends on every dealer of the table: each of our stores in it is stale for that month.
    codes = SatisfactionScore.objects.filter(survey=v["survey"], period=v["period"]).values("dealer_code")
    for store in Dealership.objects.filter(code__in=codes):
        kpi_months_mark_stale(dealership=store, instants=[v["period"]], dispatch=True)


# A writer may return a step to run after all rows (a reference to a row further down the file).
WRITERS: dict[str, Callable[[Row, User | None], Callable[[], None] | None]] = {
    "customers": _write_customer, "visits": _write_visit, "test_drives": _write_test_drive,
    "orders": _write_order, "service_visits": _write_service_visit, "callbacks": _write_callback,
    "campaigns": _write_campaign, "campaign_costs": _write_campaign_cost, "traffic_plans": _write_traffic_plan,
    "market_data": _write_market_data, "satisfaction_scores": _write_satisfaction_score,
}

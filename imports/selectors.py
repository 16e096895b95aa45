"""Reads of the import app: jobs a user may see, the template files, and exporters that write a store's
records with the very headers the importer reads (so that an export imports back as the same records)."""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from aftersales.models import Callback, ServiceVisit
from campaigns.models import Campaign, CampaignCost, TrafficPlan
from customers.models import Customer, StageChange
from dealership.models import Dealership, User
from dealership.selectors import scope_to_stores
from imports.kinds import KINDS, Kind
from imports.models import ImportJob
from kpis.models import MarketData, SatisfactionScore
from sales.models import Order, TestDrive, Visit


def import_jobs_for_user(user: User) -> QuerySet[ImportJob]:
    """Jobs of the user's stores (a job without store: only its author and those who see all stores)."""
    if user.is_authenticated and user.sees_all_stores:
        return ImportJob.objects.select_related("dealership", "created_by")
    scoped = scope_to_stores(ImportJob.objects.filter(dealership__isnull=False), user)
    own = ImportJob.objects.filter(created_by_id=user.pk) if user.is_authenticated else ImportJob.objects.none()
    return (scoped | own).select_related("dealership", "created_by").distinct()


def import_job_get_for_user(user: User, pk: Any) -> ImportJob:
    return get_object_or_404(import_jobs_for_user(user), pk=pk)


# --- exporters ---------------------------------------------------------------------------------

def _cell(value: Any, store: Dealership | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(store.tzinfo if store else dt.timezone.utc).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _ext(obj: Any) -> str | None:
    return obj.external_id if obj is not None else None


def _user(obj: User | None) -> str | None:
    return obj.username if obj is not None else None


def _month(value: dt.date) -> str:
    return value.strftime("%Y-%m")


def _customer_refs(o) -> dict[str, Any]:
    return {"customer": _ext(o.customer), "customer_phone": o.customer.phone if o.customer else None}


EXPORTERS: dict[str, tuple[Callable[[Dealership], QuerySet], Callable[[Any], dict[str, Any]]]] = {
    "customers": (
        # `stage` is the stage on creation (as in the API): the events in the other files move it on,
        # so that an export imported elsewhere replays the same history.
        lambda s: Customer.objects.filter(dealership=s).select_related("campaign", "consultant", "referred_by")
        .annotate(initial_stage=Subquery(StageChange.objects.filter(customer=OuterRef("pk"), reason="created")
                                         .order_by("-id").values("to_stage")[:1]))
        .order_by("created_at", "id"),
        lambda o: {"external_id": o.external_id, "name": o.name, "phone": o.phone, "source": o.source,
                   "campaign": _ext(o.campaign), "consultant": _user(o.consultant), "referred_by": _ext(o.referred_by),
                   "stage": o.initial_stage or o.stage, "intent": o.intent, "is_lost": o.is_lost,
                   "lost_reason": o.lost_reason,
                   "lost_at": o.lost_at, "created_at": o.created_at, "notes": o.notes}),
    "visits": (
        lambda s: Visit.objects.filter(dealership=s).select_related("customer", "campaign", "consultant")
        .order_by("occurred_at", "id"),
        lambda o: {"external_id": o.external_id, **_customer_refs(o), "kind": o.kind, "occurred_at": o.occurred_at,
                   "campaign": _ext(o.campaign), "consultant": _user(o.consultant), "invited": o.invited,
                   "notes": o.notes}),
    "test_drives": (
        lambda s: TestDrive.objects.filter(dealership=s).select_related("customer", "consultant")
        .order_by("occurred_at", "id"),
        lambda o: {"external_id": o.external_id, **_customer_refs(o), "consultant": _user(o.consultant),
                   "occurred_at": o.occurred_at, "model": o.model}),
    "orders": (
        lambda s: Order.objects.filter(dealership=s).select_related("customer", "consultant", "campaign")
        .order_by("ordered_at", "id"),
        lambda o: {"external_id": o.external_id, **_customer_refs(o), "consultant": _user(o.consultant),
                   "model": o.model, "ordered_at": o.ordered_at, "delivered_at": o.delivered_at, "price": o.price,
                   "gross_profit": o.gross_profit, "oem_rebate": o.oem_rebate, "campaign": _ext(o.campaign)}),
    "service_visits": (
        lambda s: ServiceVisit.objects.filter(dealership=s).select_related("customer", "advisor")
        .order_by("opened_at", "id"),
        lambda o: {"external_id": o.external_id, **_customer_refs(o), "advisor": _user(o.advisor), "vin": o.vin,
                   "kind": o.kind, "opened_at": o.opened_at, "closed_at": o.closed_at, "revenue": o.revenue,
                   "in_warranty": o.in_warranty}),
    "callbacks": (
        lambda s: Callback.objects.filter(dealership=s).select_related("order", "service_visit", "staff")
        .order_by("completed_at", "id"),
        lambda o: {"external_id": o.external_id, "order": _ext(o.order), "service_visit": _ext(o.service_visit),
                   "staff": _user(o.staff), "completed_at": o.completed_at, "reached": o.reached, "notes": o.notes}),
    "campaigns": (
        lambda s: Campaign.objects.filter(dealership=s).order_by("starts_on", "id"),
        lambda o: {"external_id": o.external_id, **{f: getattr(o, f) for f in (
            "name", "channel", "starts_on", "ends_on", "cycle_days", "budget", "fixed_cost",
            "variable_cost_per_attendee", "contribution_per_deal", "reach", "inquiries", "invited",
            "planned_attendees")}}),
    "campaign_costs": (
        lambda s: CampaignCost.objects.filter(campaign__dealership=s).select_related("campaign")
        .order_by("incurred_on", "id"),
        lambda o: {"external_id": o.external_id, "campaign": _ext(o.campaign), "incurred_on": o.incurred_on,
                   "amount": o.amount, "category": o.category}),
    "traffic_plans": (
        lambda s: TrafficPlan.objects.filter(dealership=s).order_by("period"),
        lambda o: {"period": _month(o.period), "planned_traffic": o.planned_traffic}),
    "market_data": (
        lambda s: MarketData.objects.filter(dealership=s).order_by("period"),
        lambda o: {"period": _month(o.period), "city_brand_sales": o.city_brand_sales,
                   "city_brand_stores": o.city_brand_stores, "market_parc": o.market_parc}),
    "satisfaction_scores": (
        lambda s: SatisfactionScore.objects.order_by("period", "survey", "dealer_code"),
        lambda o: {"survey": o.survey, "period": _month(o.period), "region": o.region, "dealer_code": o.dealer_code,
                   "dealer_name": o.dealer_name, "score": o.score}),
}


def export_rows(*, kind: str, dealership: Dealership, chinese: bool = False) -> Iterator[list[str]]:
    """The store's records of a kind as rows: a header row, then one row per record (one query)."""
    spec = KINDS[kind]
    queryset, row_of = EXPORTERS[kind]
    yield [c.label if chinese else c.field for c in spec.columns]
    for obj in queryset(dealership).iterator(chunk_size=2000):
        values = row_of(obj) | ({"dealership": dealership.code} if spec.store_column else {})
        yield [_cell(values.get(c.field), dealership) for c in spec.columns]


def export_csv(*, kind: str, dealership: Dealership, chinese: bool = False) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(export_rows(kind=kind, dealership=dealership, chinese=chinese))
    return out.getvalue()


# --- templates and the published header list ----------------------------------------------------

def template_csv(kind: str) -> bytes:
    """An empty CSV template with the Chinese headers, UTF-8 with BOM so that Excel opens it right."""
    out = io.StringIO()
    csv.writer(out).writerow([_header(c) for c in KINDS[kind].columns])
    return out.getvalue().encode("utf-8-sig")


def template_xlsx(kind: str) -> bytes:
    """An .xlsx template: the headers on the first sheet, what each column takes on the second."""
    import openpyxl
    from openpyxl.styles import Font

    spec = KINDS[kind]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = spec.name
    sheet.append([_header(c) for c in spec.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    help_sheet = workbook.create_sheet("说明 help")
    help_sheet.append([_("column"), _("header"), _("required"), _("accepted headers"), _("what to write")])
    for column in spec.columns:
        help_sheet.append([column.field, column.label, _("yes") if column.required else "",
                           ", ".join(column.headers), accepted_values(column) or str(column.help)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _header(column) -> str:
    return f"{column.label}*" if column.required else column.label


def accepted_values(column) -> str:
    choices = getattr(column.parse, "choices", None)
    if choices is None:
        return ""
    aliases: dict[str, str] = column.parse.aliases
    return "; ".join(f"{code} ({', '.join(a for a, c in aliases.items() if c == code)})".replace(" ()", "")
                     for code, _label in choices.choices)


def kinds_for_page() -> list[Kind]:
    return list(KINDS.values())


def headers_markdown() -> str:
    """The accepted headers of every kind, as published in docs/imports.md (a test keeps them in sync)."""
    from imports.kinds import IMPORT_ORDER

    lines = []
    for name in IMPORT_ORDER:
        spec = KINDS[name]
        lines += [f"### `{name}` — {spec.label}", ""]
        if spec.notes:
            lines += [str(spec.notes), ""]
        lines += [f"Templates: `/imports/templates/{name}.xlsx`, `/imports/templates/{name}.csv`.", "",
                  "| column (API name) | Chinese header | required | also accepted | values |", "|---|---|---|---|---|"]
        for c in spec.columns:
            also = ", ".join(c.aliases)
            values = accepted_values(c) or str(c.help)
            lines.append(f"| `{c.field}` | {c.label} | {'yes' if c.required else ''} | {also} | {values} |")
        if spec.one_of:
            lines += ["", "At least one of: " + "; ".join(" or ".join(f"`{f}`" for f in g) for g in spec.one_of) + "."]
        lines.append("")
    return "\n".join(lines)

"""Reads of the KPI tables for the dashboards. Nothing here touches the hot record tables except the
lapsed-customer list, the records behind the `lapsed_12m` figure (a paginated drill-down).

Series are *dense*: one slot per month of the window, None where no value was computed, so that
kpis.charts can draw gaps honestly instead of joining distant points.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language

from aftersales.models import ServiceVisit
from campaigns.models import Campaign
from customers.models import Customer
from customers.selectors import customers_for_user
from dealership.models import Dealership, Role, User
from dealership.selectors import dealerships_for_user, scope_to_stores
from kpis.models import (CampaignMetric, ChannelValue, KpiAlert, KpiTarget, KpiValue, MarketData, RecomputeJob,
                         SatisfactionScore, Status)
from kpis.registry import KPIS, KpiDef, kpi, status_of
from sales.models import Order


def month_add(period: dt.date, months: int) -> dt.date:
    index = period.year * 12 + period.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_back(end: dt.date, count: int) -> list[dt.date]:
    """`count` first-of-month dates ending with `end`, oldest first."""
    return [month_add(end, -i) for i in range(count - 1, -1, -1)]


def kpi_label(code: str) -> str:
    """A KPI's name in the active language (the registry holds both)."""
    try:
        definition = kpi(code)
    except KeyError:
        return code
    return definition.name_zh if (get_language() or "").startswith("zh") else definition.name


def kpi_def(code: str) -> KpiDef | None:
    try:
        return kpi(code)
    except KeyError:
        return None


# --- stores and periods ---------------------------------------------------------------------

def dashboard_store(user: User, store_id: str | int | None) -> Dealership | None:
    """The store a dashboard shows: the one asked for (among those the user may see), else his own."""
    stores = dealerships_for_user(user)
    if store_id and str(store_id).isdigit():
        return get_object_or_404(stores, pk=int(store_id))
    if user.dealership_id:
        return stores.filter(pk=user.dealership_id).first()
    return stores.order_by("code").first()


def latest_period(store: Dealership) -> dt.date | None:
    return (KpiValue.objects.filter(dealership=store, person__isnull=True)
            .aggregate(last=Max("period"))["last"])


def parse_period(raw: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime(raw or "", "%Y-%m").date().replace(day=1)
    except ValueError:
        return None


# --- values, targets, status ------------------------------------------------------------------

@dataclass
class Tile:
    code: str
    name: str
    unit: str
    value: float | None
    numerator: float | None
    denominator: float | None
    target: KpiTarget | None
    status: str
    previous: float | None = None

    @property
    def is_rate(self) -> bool:
        return self.unit == "rate"

    @property
    def status_label(self) -> str:
        return str(Status(self.status).label)


@dataclass
class StoreValues:
    periods: list[dt.date]
    dense: dict[str, list]
    current: dict[str, KpiValue]

    def series(self, code: str) -> list:
        return self.dense[code] if code in self.dense else [None] * len(self.periods)

    def value(self, code: str) -> float | None:
        row = self.current.get(code)
        return row.value if row else None

    def tiles(self, codes: Iterable[str], targets: dict[str, KpiTarget]) -> list[Tile]:
        result = []
        for code in codes:
            row = self.current.get(code)
            definition = kpi_def(code)
            target = targets.get(code)
            values = self.series(code)
            value = row.value if row else None
            result.append(Tile(code=code, name=kpi_label(code), unit=definition.unit if definition else "count",
                               value=value, numerator=row.numerator if row else None,
                               denominator=row.denominator if row else None, target=target,
                               status=status_of(value, target), previous=values[-2] if len(values) > 1 else None))
        return result


def store_values(store: Dealership, end: dt.date, months: int = 24) -> StoreValues:
    """Every store-level KPI of `months` months ending with `end`, as dense series. One query: the
    dashboard draws its tiles, trends, funnel, segments and ranks from it."""
    periods = months_back(end, months)
    index = {p: i for i, p in enumerate(periods)}
    dense: dict[str, list] = {}
    current: dict[str, KpiValue] = {}
    rows = KpiValue.objects.filter(dealership=store, person__isnull=True, period__gte=periods[0], period__lte=end)
    for row in rows.only("code", "period", "value", "numerator", "denominator"):
        dense.setdefault(row.code, [None] * months)[index[row.period]] = row.value
        if row.period == end:
            current[row.code] = row
    return StoreValues(periods=periods, dense=dense, current=current)


def person_values(store: Dealership, period: dt.date, codes: Iterable[str]) -> dict[str, list[tuple[str, float]]]:
    """By-person values of one month: {code: [(person name, value), ...]}, people sorted by name. One query."""
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    rows = (KpiValue.objects.filter(dealership=store, period=period, person__isnull=False, code__in=list(codes))
            .exclude(value__isnull=True).select_related("person").order_by("code", "person__name", "person_id"))
    for row in rows:
        out[row.code].append((row.person.display_name, row.value))
    return dict(out)


def channel_values(store: Dealership, periods: list[dt.date]) -> QuerySet[ChannelValue]:
    return ChannelValue.objects.filter(dealership=store, period__in=periods).order_by("period", "channel")


def compare_stores(user: User, period: dt.date, codes: list[str]) -> tuple[list[Dealership], dict]:
    """Stores side by side: ({store: {code: value}}) for the stores the user may see. Two queries."""
    stores = list(dealerships_for_user(user).order_by("code"))
    values: dict[int, dict[str, float | None]] = {s.pk: {} for s in stores}
    rows = (KpiValue.objects.filter(dealership__in=stores, period=period, person__isnull=True, code__in=codes)
            .values_list("dealership_id", "code", "value"))
    for store_id, code, value in rows:
        values[store_id][code] = value
    return stores, values


# --- alerts and jobs ---------------------------------------------------------------------------

def alerts_for_user(user: User) -> QuerySet[KpiAlert]:
    return scope_to_stores(KpiAlert.objects.all(), user).select_related("dealership", "closed_by")


def alert_get_for_user(user: User, pk: int) -> KpiAlert:
    return get_object_or_404(alerts_for_user(user), pk=pk)


def recompute_job_get_for_user(user: User, task_id: str) -> RecomputeJob:
    jobs = RecomputeJob.objects.all()
    if not user.is_superuser:
        jobs = jobs.filter(Q(requested_by=user) | Q(dealership__in=dealerships_for_user(user)))
    return get_object_or_404(jobs, task_id=task_id)


# --- campaigns ---------------------------------------------------------------------------------

def campaign_metrics(campaign: Campaign) -> dict[str, CampaignMetric]:
    return {m.code: m for m in CampaignMetric.objects.filter(campaign=campaign)}


# --- the records behind lapsed_12m ----------------------------------------------------------------

def lapsed_customers_for_user(user: User, *, as_of: dt.datetime) -> QuerySet[Customer]:
    """Customers in the base for over 12 months with no service visit opened in the 12 months before
    `as_of` (kpis.md `lapsed_12m`), longest-lapsed first (by their last service visit)."""
    cutoff = as_of - dt.timedelta(days=365)
    service = ServiceVisit.objects.filter(customer=OuterRef("pk"))
    in_base_before = (Exists(service.filter(opened_at__lt=cutoff))
                      | Exists(Order.objects.filter(customer=OuterRef("pk"), delivered_at__lt=cutoff)))
    recent = Exists(service.filter(opened_at__gte=cutoff, opened_at__lt=as_of))
    # last_service_at: the latest visit, which aftersales.services keep on the customer; those who never
    # came back last, on SQLite too (which puts NULLs first by default, PostgreSQL last).
    return (customers_for_user(user).filter(in_base_before).exclude(recent)
            .select_related("consultant").order_by(F("last_service_at").asc(nulls_last=True), "id"))


STORE_KPI_CODES = list(KPIS)


# --- scoping of the KPI tables: the one permission-scoped read per table ---
def kpi_values_for_user(user: User) -> QuerySet[KpiValue]:
    """Store rows and per-person rows of the user's stores; a sales consultant sees only his own rows."""
    qs = scope_to_stores(KpiValue.objects.all(), user)
    if user.is_authenticated and user.role == Role.CONSULTANT and not user.is_superuser:
        qs = qs.filter(person=user)
    return qs


def kpi_targets_for_user(user: User) -> QuerySet[KpiTarget]:
    """The targets of the user's stores, and the defaults (dealership null) that apply to all."""
    if not user.is_authenticated:
        return KpiTarget.objects.none()
    return KpiTarget.objects.filter(Q(dealership__isnull=True) | Q(dealership__in=dealerships_for_user(user)))


def market_data_for_user(user: User) -> QuerySet[MarketData]:
    return scope_to_stores(MarketData.objects.all(), user)


def satisfaction_scores_for_user(user: User) -> QuerySet[SatisfactionScore]:
    # The region's whole table, other dealers included (the rank needs them): shared by every store.
    return SatisfactionScore.objects.all() if user.is_authenticated else SatisfactionScore.objects.none()

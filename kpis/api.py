"""/api/v1/kpis/... and the KPI-side resources: targets, alerts, market data, satisfaction scores,
campaign metrics (spec/api.md).

KPI rows are read from the computed tables only (KpiValue, ChannelValue, CampaignMetric) as plain
values: no nested serializers, no aggregation of the hot tables per request. A year of one store
(~50 codes × 12 months) is one query for the values and one for the targets.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.selectors import campaign_get_for_user
from dealership.api import (
    MANAGERS,
    CSVRenderer,
    IdFilter,
    PeriodField,
    PeriodFilter,
    ScopedRelatedField,
    ScopedViewSetMixin,
    WriteRoles,
    api_exception_handler,
    filterset,
    own_store_default,
    parse_period,
)
from dealership.audit import audit_record
from dealership.models import Role
from dealership.selectors import dealerships_for_user, scope_to_stores
from kpis import registry
from kpis.models import (
    ChannelValue,
    Direction,
    KpiAlert,
    KpiTarget,
    KpiValue,
    MarketData,
    RecomputeJob,
    SatisfactionScore,
    Survey,
)
from kpis.selectors import (
    alerts_for_user,
    campaign_metrics,
    kpi_targets_for_user,
    kpi_values_for_user,
    market_data_for_user,
    recompute_job_get_for_user,
    satisfaction_scores_for_user,
)
from kpis.services import (
    kpi_target_delete,
    market_data_delete,
    market_data_set,
    satisfaction_score_delete,
    satisfaction_score_set,
)

MARKETING = MANAGERS | {Role.MARKETING}
KPI_FIELDS = ["id", "dealership_id", "period", "code", "person_id", "value", "numerator", "denominator",
              "computed_at"]


def targets_by_store(store_ids: set[int]) -> dict[tuple[int | None, str], KpiTarget]:
    """Every target that applies to these stores, in one query: (store, code) and (None, code) defaults."""
    rows = KpiTarget.objects.filter(Q(dealership__isnull=True) | Q(dealership_id__in=store_ids))
    return {(t.dealership_id, t.code): t for t in rows}


def with_targets(rows: list[dict]) -> list[dict]:
    """KPI rows as the contract gives them: plain numbers, the target that applies and the status."""
    targets = targets_by_store({r["dealership_id"] for r in rows})
    out = []
    for r in rows:
        target = targets.get((r["dealership_id"], r["code"])) or targets.get((None, r["code"]))
        out.append({
            "dealership": r["dealership_id"], "period": r["period"].strftime("%Y-%m"), "code": r["code"],
            "person": r["person_id"], "value": r["value"], "numerator": r["numerator"],
            "denominator": r["denominator"], "target": target.target if target else None,
            "status": registry.status_of(r["value"], target), "computed_at": r["computed_at"].isoformat(),
        })
    return out


# --- the KPI reads --------------------------------------------------------------------------------------

KpiRowSerializer = inline_serializer("KpiRow", many=True, fields={
    "dealership": serializers.IntegerField(), "period": serializers.CharField(), "code": serializers.CharField(),
    "person": serializers.IntegerField(allow_null=True),
    "value": serializers.FloatField(allow_null=True), "numerator": serializers.FloatField(allow_null=True),
    "denominator": serializers.FloatField(allow_null=True), "target": serializers.FloatField(allow_null=True),
    "status": serializers.ChoiceField(choices=["ok", "warn", "alert", "none"]),
    "computed_at": serializers.DateTimeField(
        help_text="When this value was last written: a recompute that finds the same value leaves the row."),
})

KpiFilter = filterset(KpiValue, fields={
    "dealership": IdFilter(field_name="dealership_id"),
    "period": PeriodFilter(field_name="period", label="period (YYYY-MM)"),
    "from": PeriodFilter(field_name="period__gte", label="first period (YYYY-MM)"),
    "to": PeriodFilter(field_name="period__lte", label="last period (YYYY-MM)"),
    "code": filters.CharFilter(),
    "person": IdFilter(field_name="person_id", label="a member of staff: his or her rows instead of the store's"),
})


class KpiViewSet(viewsets.GenericViewSet):
    """The computed KPIs (kpis.md), read from the KPI table only."""

    permission_classes = [WriteRoles]
    write_roles = MARKETING
    filterset_class = KpiFilter
    keyset_ascending = True  # oldest first: periods and codes come in the order they were computed
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]

    def get_exception_handler(self):
        return api_exception_handler

    queryset = KpiValue.objects.none()  # for the schema generator; requests use get_queryset

    def get_queryset(self) -> QuerySet[KpiValue]:
        if getattr(self, "swagger_fake_view", False):
            return KpiValue.objects.none()
        qs = kpi_values_for_user(self.request.user)
        if "person" not in self.request.query_params:
            user = self.request.user
            if user.role == Role.CONSULTANT and not user.is_superuser:
                qs = qs.filter(person=user)
            else:
                qs = qs.filter(person__isnull=True)
        return qs

    @extend_schema(responses={200: KpiRowSerializer}, parameters=[
        OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"],
                         description="csv: every matching row as CSV (not paginated)")])
    def list(self, request: Request) -> Response:
        qs = self.filter_queryset(self.get_queryset()).values(*KPI_FIELDS)
        if request.accepted_renderer.format == "csv":
            rows = with_targets(list(qs.order_by("dealership_id", "period", "code", "person_id")))
            # Every export goes to the audit trail (dealership.audit), whoever made it and how.
            audit_record(action="export", model="kpis.kpivalue", object_repr=f"{len(rows)} KPI rows (CSV)",
                         dealership_id=request.user.dealership_id, changes={"query": request.GET.urlencode()})
            return Response(rows, headers={"Content-Disposition": 'attachment; filename="kpis.csv"'})
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(with_targets(page))

    @extend_schema(
        parameters=[OpenApiParameter("by", OpenApiTypes.STR, enum=["consultant", "advisor"]),
                    OpenApiParameter("period", OpenApiTypes.STR, required=True, description="YYYY-MM"),
                    OpenApiParameter("dealership", OpenApiTypes.INT), OpenApiParameter("code", OpenApiTypes.STR)],
        filters=False,
        responses={200: inline_serializer("KpiBreakdownRow", many=True, fields={
            "dealership": serializers.IntegerField(), "period": serializers.CharField(),
            "code": serializers.CharField(), "person": serializers.IntegerField(),
            "person_name": serializers.CharField(), "value": serializers.FloatField(allow_null=True),
            "numerator": serializers.FloatField(allow_null=True),
            "denominator": serializers.FloatField(allow_null=True)})})
    @action(detail=False, pagination_class=None, filterset_class=None)
    def breakdown(self, request: Request) -> Response:
        """The spread behind a store KPI: one row per consultant (or advisor) for one month."""
        params = request.query_params
        by = params.get("by", "consultant")
        if by not in ("consultant", "advisor"):
            raise serializers.ValidationError({"by": [_("Break down by consultant or advisor.")]})
        if not params.get("period"):
            raise serializers.ValidationError({"period": [_("Give the month: period=YYYY-MM.")]})
        qs = kpi_values_for_user(request.user).filter(person__isnull=False, period=parse_period(params["period"]),
                                                     person__role=by)
        if params.get("dealership"):
            qs = qs.filter(dealership_id=_int_param(params, "dealership"))
        if params.get("code"):
            qs = qs.filter(code=params["code"])
        rows = qs.order_by("code", "person__name", "person_id").values(
            "dealership_id", "period", "code", "person_id", "person__name", "person__username", "value",
            "numerator", "denominator")
        return Response([{
            "dealership": r["dealership_id"], "period": r["period"].strftime("%Y-%m"), "code": r["code"],
            "person": r["person_id"], "person_name": r["person__name"] or r["person__username"],
            "value": r["value"], "numerator": r["numerator"], "denominator": r["denominator"],
        } for r in rows])

    @extend_schema(
        filters=False,
        parameters=[OpenApiParameter("dealership", OpenApiTypes.INT),
                    OpenApiParameter("period", OpenApiTypes.STR, description="YYYY-MM")],
        responses={200: inline_serializer("ChannelRow", many=True, fields={
            "dealership": serializers.IntegerField(), "period": serializers.CharField(),
            "channel": serializers.CharField(help_text="'all' for every channel together"),
            "cost": serializers.FloatField(), "gross_profit": serializers.FloatField(),
            "roi": serializers.FloatField(allow_null=True), "campaigns": serializers.IntegerField()})})
    @action(detail=False, pagination_class=None, filterset_class=None)
    def channels(self, request: Request) -> Response:
        """Campaign ROI by channel over the campaigns ending in each month (and 'all' channels)."""
        params = request.query_params
        qs = scope_to_stores(ChannelValue.objects.all(), request.user)
        if params.get("dealership"):
            qs = qs.filter(dealership_id=_int_param(params, "dealership"))
        if params.get("period"):
            qs = qs.filter(period=parse_period(params["period"]))
        rows = qs.order_by("dealership_id", "period", "channel").values(
            "dealership_id", "period", "channel", "cost", "gross_profit", "roi", "campaigns")
        return Response([{
            "dealership": r["dealership_id"], "period": r["period"].strftime("%Y-%m"),
            "channel": r["channel"] or "all", "cost": float(r["cost"]), "gross_profit": float(r["gross_profit"]),
            "roi": r["roi"], "campaigns": r["campaigns"],
        } for r in rows])

    @extend_schema(filters=False, responses={200: inline_serializer("KpiDefinition", many=True, fields={
        "code": serializers.CharField(), "name": serializers.CharField(), "name_zh": serializers.CharField(),
        "unit": serializers.CharField(), "direction": serializers.CharField(allow_null=True),
        "description": serializers.CharField(), "family": serializers.CharField(),
        "by_person": serializers.BooleanField(),
        "scope": serializers.ChoiceField(choices=["store", "campaign", "channel"])})})
    @action(detail=False, pagination_class=None, filterset_class=None)
    def definitions(self, request: Request) -> Response:
        """The catalogue: store KPIs, campaign metrics and the channel ROI, from kpis.registry."""
        def row(d, scope: str) -> dict:
            return {"code": d.code, "name": d.name, "name_zh": d.name_zh, "unit": d.unit, "direction": d.direction,
                    "description": d.description, "family": d.family, "by_person": d.by_person, "scope": scope}

        return Response([row(d, "store") for d in registry.KPIS.values()]
                        + [row(d, "campaign") for d in registry.CAMPAIGN_METRICS.values()]
                        + [row(registry.CAMPAIGN_ROI, "channel")])


def _int_param(params, name: str) -> int:
    try:
        value = int(params[name])
    except ValueError:
        raise serializers.ValidationError({name: [_("Enter a whole number.")]}) from None
    if not 0 < value < 2**63:
        raise serializers.ValidationError({name: [_("Enter a whole number.")]})
    return value


# --- recompute ------------------------------------------------------------------------------------------

class RecomputeRequestSerializer(serializers.Serializer):
    dealership = ScopedRelatedField(dealerships_for_user, required=False, allow_null=True,
                                    help_text="Default: your store (a group manager: every store he sees).")
    periods = serializers.ListField(child=PeriodField(), required=False, allow_empty=True, max_length=600,
                                    help_text="Default: every period that has data.")


class RecomputeView(APIView):
    """POST: ask for a recompute (202 {"task_id"}); the work runs in the background (Celery)."""

    permission_classes = [WriteRoles]
    write_roles = MARKETING

    def get_exception_handler(self):
        return api_exception_handler

    @extend_schema(request=RecomputeRequestSerializer,
                   responses={202: inline_serializer("RecomputeAccepted", fields={"task_id": serializers.CharField()})})
    def post(self, request: Request) -> Response:
        from kpis.services import recompute_request

        serializer = RecomputeRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        store = serializer.validated_data.get("dealership")
        user = request.user
        if store is None and not user.sees_all_stores and user.dealership_id:
            store = user.dealership
        if store is None and not user.sees_all_stores:
            raise serializers.ValidationError({"dealership": [_("Say which store to recompute.")]})
        periods = sorted(set(serializer.validated_data.get("periods") or [])) or None
        job = recompute_request(user=user, dealership=store, periods=periods)
        return Response({"task_id": job.task_id}, status=status.HTTP_202_ACCEPTED)


class RecomputeStatusView(APIView):
    """GET the progress of a recompute the user asked for (or one of his stores')."""

    permission_classes = [WriteRoles]

    def get_exception_handler(self):
        return api_exception_handler

    @extend_schema(responses={200: inline_serializer("RecomputeStatus", fields={
        "task_id": serializers.CharField(),
        "state": serializers.ChoiceField(choices=RecomputeJob.State.values),
        "progress": serializers.FloatField(min_value=0, max_value=1),
        "error": serializers.CharField(required=False),
        "requested_at": serializers.DateTimeField(), "finished_at": serializers.DateTimeField(allow_null=True)})})
    def get(self, request: Request, task_id: str) -> Response:
        job = recompute_job_get_for_user(request.user, task_id)
        body: dict[str, Any] = {"task_id": job.task_id, "state": job.state, "progress": job.progress,
                                "requested_at": job.requested_at, "finished_at": job.finished_at}
        if job.error:
            body["error"] = job.error
        return Response(_jsonable(body))


def _jsonable(body: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in body.items()}


# --- campaign metrics -----------------------------------------------------------------------------------

class CampaignMetricsView(APIView):
    """GET /campaigns/{id}/metrics/: every campaign metric of the catalogue, by code (null: not computed)."""

    permission_classes = [WriteRoles]

    def get_exception_handler(self):
        return api_exception_handler

    @extend_schema(responses={200: inline_serializer("CampaignMetrics", fields={
        "campaign": serializers.IntegerField(),
        "metrics": serializers.DictField(child=serializers.FloatField(allow_null=True)),
        "details": serializers.DictField(child=serializers.DictField()),
        "computed_at": serializers.DateTimeField(allow_null=True)})})
    def get(self, request: Request, pk: int) -> Response:
        campaign = campaign_get_for_user(request.user, pk)
        rows = campaign_metrics(campaign)
        codes = list(registry.CAMPAIGN_METRICS) + [c for c in rows if c not in registry.CAMPAIGN_METRICS]
        computed = max((r.computed_at for r in rows.values()), default=None)
        return Response({
            "campaign": campaign.pk,
            "metrics": {c: rows[c].value if c in rows else None for c in codes},
            "details": {c: {"value": rows[c].value, "numerator": rows[c].numerator,
                            "denominator": rows[c].denominator} for c in codes if c in rows},
            "computed_at": computed.isoformat() if computed else None,
        })


# --- targets, alerts, market data, satisfaction scores --------------------------------------------------

class KpiTargetSerializer(serializers.ModelSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, allow_null=True, required=False,
                                    help_text="Null: the default for every store (superusers only).")
    code = serializers.ChoiceField(choices=[(c, c) for c in registry.KPIS])
    direction = serializers.ChoiceField(choices=Direction.choices)
    target = serializers.FloatField(min_value=-1e12, max_value=1e12)
    control_line = serializers.FloatField(min_value=-1e12, max_value=1e12)

    class Meta:
        model = KpiTarget
        fields = ["id", "dealership", "code", "target", "control_line", "direction"]
        validators: list = []

    def validate(self, attrs: dict) -> dict:
        fields = ("dealership", "code", "target", "control_line", "direction")
        merged = {**({f: getattr(self.instance, f) for f in fields} if self.instance else {}), **attrs}
        user = self.context["request"].user
        if merged.get("dealership") is None and not user.is_superuser:
            raise serializers.ValidationError({"dealership": [_("Only a superuser sets the default for all stores.")]})
        if self.instance is not None and (merged["dealership"] != self.instance.dealership
                                          or merged["code"] != self.instance.code):
            raise serializers.ValidationError({"code": [_("Post a new target for another KPI or store.")]})
        higher = merged.get("direction") == Direction.HIGHER
        if "target" in merged and "control_line" in merged and "direction" in merged:
            if (higher and merged["control_line"] > merged["target"]) or \
                    (not higher and merged["control_line"] < merged["target"]):
                raise serializers.ValidationError({"control_line": [
                    _("The control line lies beyond the target, on the bad side.")]})
        return merged

    def create(self, validated_data: dict) -> KpiTarget:
        from kpis.services import kpi_target_set

        return kpi_target_set(**validated_data)

    def update(self, instance: KpiTarget, validated_data: dict) -> KpiTarget:
        return self.create(validated_data)


class KpiAlertSerializer(serializers.ModelSerializer):
    period = PeriodField(read_only=True)
    corrective_action = serializers.CharField(max_length=5000, allow_blank=False,
                                              help_text="PATCH it to close the alert.")

    class Meta:
        model = KpiAlert
        fields = ["id", "dealership", "code", "period", "value", "status", "opened_at", "corrective_action",
                  "closed_at", "closed_by"]
        read_only_fields = ["dealership", "code", "value", "status", "opened_at", "closed_at", "closed_by"]

    def update(self, instance: KpiAlert, validated_data: dict) -> KpiAlert:
        from kpis.services import kpi_alert_close

        return kpi_alert_close(alert=instance, corrective_action=validated_data["corrective_action"],
                               by=self.context["request"].user)


class MarketDataSerializer(serializers.ModelSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, default=own_store_default)
    period = PeriodField()
    city_brand_sales = serializers.IntegerField(min_value=0, max_value=2_000_000_000)
    city_brand_stores = serializers.IntegerField(min_value=0, max_value=2_000_000_000)
    market_parc = serializers.IntegerField(min_value=0, max_value=2_000_000_000, default=0)

    class Meta:
        model = MarketData
        fields = ["id", "dealership", "period", "city_brand_sales", "city_brand_stores", "market_parc"]
        validators: list = []

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and attrs.get("dealership") is None:
            raise serializers.ValidationError({"dealership": [_("Say which store this record belongs to.")]})
        if self.instance is not None:
            for key in ("dealership", "period"):
                if key in attrs and attrs[key] != getattr(self.instance, key):
                    raise serializers.ValidationError({key: [_("Post a new row for another month or store.")]})
        return attrs

    def create(self, validated_data: dict) -> MarketData:
        return market_data_set(**validated_data)

    def update(self, instance: MarketData, validated_data: dict) -> MarketData:
        validated_data.pop("dealership", None)
        validated_data.pop("period", None)
        return market_data_set(dealership=instance.dealership, period=instance.period, **validated_data)


class SatisfactionScoreSerializer(serializers.ModelSerializer):
    survey = serializers.ChoiceField(choices=Survey.choices)
    period = PeriodField()
    score = serializers.DecimalField(max_digits=7, decimal_places=2, min_value=Decimal("0"))

    class Meta:
        model = SatisfactionScore
        fields = ["id", "survey", "period", "region", "dealer_code", "dealer_name", "score"]
        validators: list = []

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None:
            for key in ("survey", "period", "dealer_code"):
                if key in attrs and attrs[key] != getattr(self.instance, key):
                    raise serializers.ValidationError({key: [_("Post a new row for another survey, month or dealer.")]})
        return attrs

    def create(self, validated_data: dict) -> SatisfactionScore:
        return satisfaction_score_set(**validated_data)

    def update(self, instance: SatisfactionScore, validated_data: dict) -> SatisfactionScore:
        for key in ("survey", "period", "dealer_code"):
            validated_data[key] = getattr(instance, key)
        return satisfaction_score_set(**validated_data)


class KpiTargetViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """Targets and control lines; a store's own target wins over the default (dealership null)."""

    scope = staticmethod(kpi_targets_for_user)
    serializer_class = KpiTargetSerializer
    write_roles = MANAGERS
    filterset_class = filterset(KpiTarget, fields={
        "dealership": IdFilter(field_name="dealership_id"), "code": filters.CharFilter(),
        "default": filters.BooleanFilter(field_name="dealership", lookup_expr="isnull"),
    })

    def get_object(self) -> KpiTarget:
        target = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and target.dealership_id is None \
                and not self.request.user.is_superuser:
            # The defaults are readable by every store, but only superusers change them.
            self.permission_denied(self.request, message=_("Only a superuser changes the default targets."))
        return target

    def perform_destroy(self, instance: KpiTarget) -> None:
        kpi_target_delete(target=instance)


class KpiAlertViewSet(ScopedViewSetMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Alerts of values beyond their control line; PATCH {"corrective_action"} closes one (managers)."""

    scope = staticmethod(alerts_for_user)
    serializer_class = KpiAlertSerializer
    write_roles = MANAGERS
    http_method_names = ["get", "patch", "head", "options"]
    filterset_class = filterset(KpiAlert, fields={
        "dealership": IdFilter(field_name="dealership_id"), "code": filters.CharFilter(),
        "period": PeriodFilter(field_name="period", label="period (YYYY-MM)"),
        "open": filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull"),
    })


class MarketDataViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """City market data by store and month; posting a month again updates it."""

    scope = staticmethod(market_data_for_user)
    serializer_class = MarketDataSerializer
    write_roles = MARKETING
    filterset_class = filterset(MarketData, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "period": PeriodFilter(field_name="period", label="period (YYYY-MM)"),
    })

    def perform_destroy(self, instance: MarketData) -> None:
        market_data_delete(row=instance)


class SatisfactionScoreViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """CSI/SSI: the region's whole table; one row per survey, month and dealer code. Managers write."""

    scope = staticmethod(satisfaction_scores_for_user)
    serializer_class = SatisfactionScoreSerializer
    write_roles = MANAGERS
    filterset_class = filterset(SatisfactionScore, fields={
        "survey": filters.ChoiceFilter(choices=Survey.choices),
        "period": PeriodFilter(field_name="period", label="period (YYYY-MM)"),
        "dealer_code": filters.CharFilter(), "region": filters.CharFilter(),
    })

    def perform_destroy(self, instance: SatisfactionScore) -> None:
        satisfaction_score_delete(row=instance)

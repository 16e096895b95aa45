"""/api/v1/marketing-plans/ and its goals, campaigns and milestones (conventions of spec/api.md).

Plans are the work of marketing and managers: other roles get 403 on every method. A plan of another
store is a 404 (every fetch goes through plans.selectors' scoped querysets); approving needs a manager.
"""
from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.selectors import campaigns_for_user
from dealership.api import (BoundedDateField, IdFilter, PeriodField, ScopedRelatedField, ScopedViewSetMixin,
                            filterset, money_field, own_store_default)
from dealership.models import Role, User
from dealership.selectors import dealerships_for_user, staff_for_user
from kpis.registry import KPIS
from plans import services
from plans.models import PART_FIELDS, GoalDirection, MarketingPlan, PeriodKind, PlanCampaign, PlanGoal, PlanMilestone
from plans.selectors import (capability, cost_forecast, evaluate, plan_actuals, plan_campaigns_for_user,
                             plan_goals_for_user, plan_milestones_for_user, plans_for_user)

PLANNERS = frozenset({Role.MANAGER, Role.GROUP_MANAGER, Role.MARKETING})


class Planners(permissions.BasePermission):
    message = _("Marketing plans are for marketing staff and managers.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user.role in PLANNERS))


def planned_plans(user: User) -> QuerySet[MarketingPlan]:
    return plans_for_user(user).prefetch_related(
        Prefetch("goals", queryset=PlanGoal.objects.order_by("id")),
        Prefetch("plan_campaigns", queryset=PlanCampaign.objects.select_related("campaign")),
        "milestones",
    )


class GoalSerializer(serializers.ModelSerializer):
    plan = ScopedRelatedField(plans_for_user)
    code = serializers.ChoiceField(choices=sorted(KPIS))
    direction = serializers.ChoiceField(choices=GoalDirection.choices, required=False, allow_null=True,
                                        help_text="Default: the KPI's own direction.")

    class Meta:
        model = PlanGoal
        fields = ["id", "plan", "code", "target", "control_line", "direction", "measure"]
        validators: list = []  # posting a goal for a code the plan has replaces it (plan_goal_set)

    def create(self, data: dict) -> PlanGoal:
        return services.plan_goal_set(**data)

    def update(self, goal: PlanGoal, data: dict) -> PlanGoal:
        if data.get("plan", goal.plan) != goal.plan or data.get("code", goal.code) != goal.code:
            raise serializers.ValidationError({"code": [_("Set a goal for another KPI as a new goal.")]})
        values = {k: data.get(k, getattr(goal, k)) for k in ("target", "control_line", "direction", "measure")}
        return services.plan_goal_set(plan=goal.plan, code=goal.code, **values)


class PlanCampaignSerializer(serializers.ModelSerializer):
    plan = ScopedRelatedField(plans_for_user)
    campaign = ScopedRelatedField(campaigns_for_user)
    channel = serializers.CharField(source="campaign.channel", read_only=True)
    budget = serializers.DecimalField(source="campaign.budget", max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = PlanCampaign
        fields = ["id", "plan", "campaign", "channel", "budget", "expected_roi"]
        validators: list = []  # linking a linked campaign again updates its expected ROI

    def create(self, data: dict) -> PlanCampaign:
        return services.plan_campaign_link(**data)

    def update(self, link: PlanCampaign, data: dict) -> PlanCampaign:
        if data.get("plan", link.plan) != link.plan or data.get("campaign", link.campaign) != link.campaign:
            raise serializers.ValidationError({"campaign": [_("Unlink it and link the other campaign.")]})
        return services.plan_campaign_link(plan=link.plan, campaign=link.campaign,
                                           expected_roi=data.get("expected_roi", link.expected_roi))


class MilestoneSerializer(serializers.ModelSerializer):
    plan = ScopedRelatedField(plans_for_user)
    owner = ScopedRelatedField(staff_for_user, allow_null=True, required=False)
    due_on = BoundedDateField()
    done_on = BoundedDateField(allow_null=True, required=False)

    class Meta:
        model = PlanMilestone
        fields = ["id", "plan", "title", "due_on", "owner", "done_on"]

    def create(self, data: dict) -> PlanMilestone:
        return services.plan_milestone_create(**data)

    def update(self, milestone: PlanMilestone, data: dict) -> PlanMilestone:
        if data.pop("plan", milestone.plan) != milestone.plan:
            raise serializers.ValidationError({"plan": [_("A milestone cannot move to another plan.")]})
        return services.plan_milestone_update(milestone=milestone, **data)


class _GoalRead(serializers.ModelSerializer):
    class Meta:
        model = PlanGoal
        fields = ["id", "code", "target", "control_line", "direction", "measure"]


class _MilestoneRead(serializers.ModelSerializer):
    class Meta:
        model = PlanMilestone
        fields = ["id", "title", "due_on", "owner", "done_on"]


class PlanSerializer(serializers.ModelSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, default=own_store_default)
    period = PeriodField(help_text="YYYY-MM: the month, or the first month of the quarter.")
    budget = money_field(required=False)
    goals = _GoalRead(many=True, read_only=True)
    campaigns = serializers.SerializerMethodField()
    milestones = _MilestoneRead(many=True, read_only=True)
    cost_forecast_total = serializers.SerializerMethodField(help_text="Sum of the linked campaigns' budgets.")
    copy_from = ScopedRelatedField(plans_for_user, write_only=True, required=False, allow_null=True,
                                   help_text="On create: start from this plan's parts, budget and goals.")

    class Meta:
        model = MarketingPlan
        fields = ["id", "external_id", "dealership", "period", "period_kind", "title", "budget", "status",
                  *PART_FIELDS, "goals", "campaigns", "milestones", "cost_forecast_total", "copy_from", "created_by",
                  "approved_by", "approved_at", "created_at", "updated_at"]
        read_only_fields = ["status", "created_by", "approved_by", "approved_at", "created_at", "updated_at"]
        validators: list = []
        extra_kwargs = {"external_id": {"max_length": 64, "allow_null": True, "required": False}}

    def get_campaigns(self, plan: MarketingPlan) -> list[dict]:
        return [{"id": link.id, "campaign": link.campaign_id, "name": link.campaign.name,
                 "channel": link.campaign.channel, "budget": f"{link.campaign.budget:.2f}",
                 "expected_roi": link.expected_roi} for link in plan.plan_campaigns.all()]

    def get_cost_forecast_total(self, plan: MarketingPlan) -> str:
        return f"{cost_forecast(plan).total:.2f}"

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and attrs.get("dealership") is None:
            raise serializers.ValidationError({"dealership": [_("Say which store this plan is for.")]})
        if self.instance is not None and attrs.get("dealership", self.instance.dealership) != self.instance.dealership:
            raise serializers.ValidationError({"dealership": [_("A plan cannot move to another store.")]})
        return attrs

    def create(self, data: dict) -> MarketingPlan:
        user = self.context["request"].user
        external_id = data.pop("external_id", None)
        if external_id:
            taken = MarketingPlan.objects.filter(dealership=data["dealership"], external_id=external_id)
            self.created = not taken.exists()
        return services.plan_create(by=user, external_id=external_id, **data)

    def update(self, plan: MarketingPlan, data: dict) -> MarketingPlan:
        data.pop("dealership", None)
        data.pop("external_id", None)
        data.pop("copy_from", None)
        return services.plan_update(plan=plan, **data)


class PlanViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """Marketing plans of the user's stores. POST a known external_id again: that plan is updated (200)."""

    scope = staticmethod(planned_plans)
    serializer_class = PlanSerializer
    permission_classes = [Planners]
    filterset_class = filterset(MarketingPlan, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "status": filters.ChoiceFilter(choices=MarketingPlan._meta.get_field("status").choices),
        "period_kind": filters.ChoiceFilter(choices=PeriodKind.choices),
        "external_id": filters.CharFilter(),
    })

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        code = status.HTTP_201_CREATED if getattr(serializer, "created", True) else status.HTTP_200_OK
        return Response(self.get_serializer(self._fresh(serializer.instance)).data, status=code)

    def update(self, request: Request, *args, **kwargs) -> Response:
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(self.get_serializer(self._fresh(serializer.instance)).data)

    def perform_destroy(self, plan: MarketingPlan) -> None:
        services.plan_delete(plan=plan)

    def _fresh(self, plan: MarketingPlan) -> MarketingPlan:
        return self.get_queryset().get(pk=plan.pk)

    @extend_schema(request=None, responses={200: PlanSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve the plan: its goals become the store's KPI targets and control lines (managers)."""
        plan = services.plan_approve(plan=self.get_object(), by=request.user)
        return Response(self.get_serializer(self._fresh(plan)).data)

    @extend_schema(request=None, responses={200: PlanSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        plan = services.plan_close(plan=self.get_object(), by=request.user)
        return Response(self.get_serializer(self._fresh(plan)).data)

    @extend_schema(responses={200: inline_serializer("PlanEvaluation", {
        "points": serializers.ListField(child=serializers.DictField()),
        "goals": serializers.ListField(child=serializers.DictField()),
        "campaigns": serializers.ListField(child=serializers.DictField()),
        "cost_forecast": serializers.DictField(),
        "capability": serializers.DictField(),
    })})
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def evaluation(self, request: Request, pk: str | None = None) -> Response:
        """The 8-point evaluation, each goal against the KPI values reached, each campaign's ROI."""
        plan = self.get_object()
        goal_rows, campaign_rows = actuals = plan_actuals(plan)
        forecast = cost_forecast(plan)
        cap = capability(dealership=plan.dealership, before=plan.period)
        return Response({
            "points": [{"number": p.number, "title": p.title, "passed": p.passed, "reason": p.reason}
                       for p in evaluate(plan, actuals=actuals)],
            "goals": [{"code": g.goal.code, "target": g.goal.target, "control_line": g.goal.control_line,
                       "direction": g.goal.direction, "status": g.status,
                       "months": [{"period": f"{p:%Y-%m}", "value": v, "status": s} for p, v, s in g.months]}
                      for g in goal_rows],
            "campaigns": [{"campaign": c.link.campaign_id, "name": c.link.campaign.name, "roi": c.roi,
                           "expected_roi": c.expected, "met": c.met} for c in campaign_rows],
            "cost_forecast": {"budget": f"{forecast.budget:.2f}", "total": f"{forecast.total:.2f}",
                              "difference": f"{forecast.difference:.2f}", "over_budget": forecast.over_budget},
            "capability": {"months": [f"{m:%Y-%m}" for m in cap.months],
                           "rates": {r.code: r.values for r in cap.rows},
                           "weakest": cap.weakest.code if cap.weakest else None},
        })


class _ChildViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    permission_classes = [Planners]
    filterset_class = None

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        plan = self.request.query_params.get("plan")
        return qs.filter(plan_id=plan) if plan and plan.isdigit() else qs


class PlanGoalViewSet(_ChildViewSet):
    """Goals of plans (KPI targets): POST a code the plan already has to replace its goal. `?plan=`."""

    scope = staticmethod(plan_goals_for_user)
    serializer_class = GoalSerializer

    def perform_destroy(self, goal: PlanGoal) -> None:
        services.plan_goal_delete(goal=goal)


class PlanCampaignViewSet(_ChildViewSet):
    """Campaigns linked to plans, with their expected ROI. `?plan=`."""

    scope = staticmethod(plan_campaigns_for_user)
    serializer_class = PlanCampaignSerializer

    def perform_destroy(self, link: PlanCampaign) -> None:
        services.plan_campaign_unlink(link=link)


class PlanMilestoneViewSet(_ChildViewSet):
    """Milestones of plans, each with a due date and an owner (a member of the store's staff). `?plan=`."""

    scope = staticmethod(plan_milestones_for_user)
    serializer_class = MilestoneSerializer

    def perform_destroy(self, milestone: PlanMilestone) -> None:
        services.plan_milestone_delete(milestone=milestone)

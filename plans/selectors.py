"""Reads of marketing plans: the one scoped lookup, the capability analysis, the cost forecast, the
8-point evaluation (营销计划评估标准) and plan against actual.

Everything here reads the KPI tables (KpiValue, CampaignMetric), never the hot record tables: a plan's
page costs a fixed handful of queries however large the store.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns.models import Campaign, Channel
from dealership.models import Dealership, User
from dealership.selectors import scope_to_stores
from kpis.models import CampaignMetric, KpiValue
from kpis.registry import KPIS, SALES, status_of
from plans.models import PLAN_PARTS, MarketingPlan, PlanCampaign, PlanGoal, PlanMilestone, add_months

# The five gates of the capability curve (能力曲线), in funnel order.
GATES = ["capture_rate", "retention_rate", "funnel_close_rate", "return_rate", "keep_rate"]
CAPABILITY_MONTHS = 6
# Point 2 (concise): an executive summary a manager reads in a minute, and no part that is an essay.
SUMMARY_MAX_CHARS = 300
PART_MAX_CHARS = 2000
ZERO = Decimal("0.00")


def kpi_label(code: str) -> str:
    """The KPI's name in the active language (the registry holds both)."""
    definition = KPIS.get(code)
    if definition is None:
        return code
    return definition.name_zh if (translation.get_language() or "").startswith("zh") else definition.name


def kpi_unit(code: str) -> str:
    definition = KPIS.get(code)
    return definition.unit if definition else "count"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "rate":
        return f"{value:.1%}"
    if unit == "money":
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


# --- lookup ---------------------------------------------------------------------------------------

def plans_for_user(user: User) -> QuerySet[MarketingPlan]:
    return scope_to_stores(MarketingPlan.objects.all(), user).select_related("dealership")


def plan_get_for_user(user: User, pk: int) -> MarketingPlan:
    """The one scoped fetch of a plan, with everything its page shows: another store's plan is a 404."""
    qs = plans_for_user(user).select_related("created_by", "approved_by").prefetch_related(
        Prefetch("goals", queryset=PlanGoal.objects.order_by("id")),
        Prefetch("plan_campaigns", queryset=PlanCampaign.objects.select_related("campaign")),
        Prefetch("milestones", queryset=PlanMilestone.objects.select_related("owner")),
    )
    return get_object_or_404(qs, pk=pk)


def plan_goals_for_user(user: User) -> QuerySet[PlanGoal]:
    return scope_to_stores(PlanGoal.objects.select_related("plan"), user, field="plan__dealership")


def plan_campaigns_for_user(user: User) -> QuerySet[PlanCampaign]:
    return scope_to_stores(PlanCampaign.objects.select_related("plan", "campaign"), user, field="plan__dealership")


def plan_milestones_for_user(user: User) -> QuerySet[PlanMilestone]:
    return scope_to_stores(PlanMilestone.objects.select_related("plan", "owner"), user, field="plan__dealership")


def linkable_campaigns(plan: MarketingPlan) -> QuerySet[Campaign]:
    """Campaigns of the plan's store not yet linked to it, the latest first."""
    return (Campaign.objects.filter(dealership_id=plan.dealership_id)
            .exclude(plan_links__plan=plan).order_by("-ends_on", "name"))


def plan_staff(plan: MarketingPlan) -> QuerySet[User]:
    return User.objects.filter(dealership_id=plan.dealership_id, is_active=True).order_by("name", "username")


# --- capability analysis --------------------------------------------------------------------------

@dataclass
class CapabilityRow:
    code: str
    label: str
    values: list[float | None]
    average: float | None

    @property
    def cells(self) -> list[str]:
        return [format_value(v, "rate") for v in self.values]

    @property
    def average_text(self) -> str:
        return format_value(self.average, "rate")


@dataclass
class Capability:
    months: list[dt.date]
    rows: list[CapabilityRow]
    weakest: CapabilityRow | None


def capability(*, dealership: Dealership, before: dt.date, months: int = CAPABILITY_MONTHS) -> Capability:
    """The five gate rates of the store's last `months` months before `before`, and the weakest gate.

    The weakest gate is the one with the lowest average over the months that have a value: the seed's
    "where improvement pays most". Recent cohorts are still maturing; the table shows the raw values.
    """
    periods = [add_months(before, -i) for i in range(months, 0, -1)]
    found = {(v.code, v.period): v.value for v in KpiValue.objects.filter(
        dealership=dealership, person__isnull=True, code__in=GATES, period__in=periods)}
    rows = []
    for code in GATES:
        values = [found.get((code, p)) for p in periods]
        present = [v for v in values if v is not None]
        rows.append(CapabilityRow(code=code, label=kpi_label(code), values=values,
                                  average=sum(present) / len(present) if present else None))
    rated = [r for r in rows if r.average is not None]
    weakest = min(rated, key=lambda r: r.average) if rated else None
    return Capability(months=periods, rows=rows, weakest=weakest)


def capability_summary(*, dealership: Dealership, before: dt.date) -> str:
    """The pre-filled text of the capability analysis, in the active language."""
    cap = capability(dealership=dealership, before=before)
    if cap.weakest is None:
        return _("No capability-curve values yet for the months before this plan: recompute the KPIs, "
                 "then refresh this part.")
    rates = _(", ").join(f"{r.label} {format_value(r.average, 'rate')}" for r in cap.rows
                         if r.average is not None)
    return _("Capability curve %(start)s to %(end)s (average of the months with a value): %(rates)s. "
             "Weakest gate: %(weakest)s (%(value)s): improvement there pays most.") % {
        "start": f"{cap.months[0]:%Y-%m}", "end": f"{cap.months[-1]:%Y-%m}", "rates": rates,
        "weakest": cap.weakest.label, "value": format_value(cap.weakest.average, "rate"),
    }


# --- cost forecast --------------------------------------------------------------------------------

@dataclass
class CostForecast:
    budget: Decimal
    total: Decimal
    by_channel: list[tuple[str, Decimal]]

    @property
    def difference(self) -> Decimal:
        """Positive: the campaigns cost more than the plan's budget."""
        return self.total - self.budget

    @property
    def gap(self) -> Decimal:
        """How far over or under the budget, as a positive amount."""
        return abs(self.difference)

    @property
    def over_budget(self) -> bool:
        return self.total > self.budget


def cost_forecast(plan: MarketingPlan) -> CostForecast:
    """The sum of the plan's campaigns' budgets, per channel, against the plan's budget (no query when
    the plan came from plan_get_for_user)."""
    by_channel: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for link in plan.plan_campaigns.all():
        by_channel[link.campaign.channel] += link.campaign.budget
    labels = dict(Channel.choices)
    rows = sorted(((str(labels.get(c, c)), v) for c, v in by_channel.items()), key=lambda r: -r[1])
    return CostForecast(budget=plan.budget, total=sum(by_channel.values(), ZERO), by_channel=rows)


# --- plan against actual --------------------------------------------------------------------------

@dataclass
class GoalActual:
    goal: PlanGoal
    label: str
    unit: str
    months: list[tuple[dt.date, float | None, str]]  # (period, value, status against the goal)

    @property
    def status(self) -> str:
        """The worst month: a goal is met only if it is met in every month of the period."""
        statuses = [s for _p, _v, s in self.months]
        if "none" in statuses:
            return "none"
        for worst in ("alert", "warn"):
            if worst in statuses:
                return worst
        return "ok"

    @property
    def target_text(self) -> str:
        return format_value(self.goal.target, self.unit)

    @property
    def control_line_text(self) -> str:
        return format_value(self.goal.control_line, self.unit)

    @property
    def cells(self) -> list[tuple[str, str]]:
        return [(format_value(v, self.unit), s) for _p, v, s in self.months]


@dataclass
class CampaignActual:
    link: PlanCampaign
    roi: float | None
    expected: float

    @property
    def met(self) -> bool | None:
        return None if self.roi is None else self.roi >= self.expected

    @property
    def roi_text(self) -> str:
        return format_value(self.roi, "rate")

    @property
    def expected_text(self) -> str:
        return format_value(self.expected, "rate")


def plan_actuals(plan: MarketingPlan) -> tuple[list[GoalActual], list[CampaignActual]]:
    """Each goal against the store's KPI value in each month of the period (targets are monthly, as
    the store's KPI targets are), and each campaign's ROI against its expectation (break even if none)."""
    goals = list(plan.goals.all())
    links = list(plan.plan_campaigns.all())
    values = {}
    if goals:
        values = {(v.code, v.period): v.value for v in KpiValue.objects.filter(
            dealership_id=plan.dealership_id, person__isnull=True, period__in=plan.months,
            code__in=[g.code for g in goals])}
    rois = {}
    if links:
        rois = dict(CampaignMetric.objects.filter(campaign_id__in=[link.campaign_id for link in links], code="roi")
                    .values_list("campaign_id", "value"))
    goal_rows = []
    for goal in goals:
        months = []
        for period in plan.months:
            value = values.get((goal.code, period))
            months.append((period, value, status_of(value, goal)))
        goal_rows.append(GoalActual(goal=goal, label=kpi_label(goal.code), unit=kpi_unit(goal.code), months=months))
    campaign_rows = [CampaignActual(link=link, roi=rois.get(link.campaign_id),
                                    expected=link.expected_roi if link.expected_roi is not None else 0.0)
                     for link in links]
    return goal_rows, campaign_rows


# --- the 8-point evaluation -----------------------------------------------------------------------

@dataclass
class Point:
    number: int
    title: str
    passed: bool | None  # None: cannot be judged yet (the actual effect, before the period ends)
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return " ".join(self.reasons)


def _names(items) -> str:
    return _(", ").join(str(i) for i in items)


def store_today(plan: MarketingPlan) -> dt.date:
    return timezone.now().astimezone(plan.dealership.tzinfo).date()


def evaluate(plan: MarketingPlan, *, today: dt.date | None = None,
             actuals: tuple[list[GoalActual], list[CampaignActual]] | None = None) -> list[Point]:
    """The seed's eight points. 1–7 are read from the plan itself; 8 compares, at and after the end of
    the period, each goal with the KPI value reached and each campaign's ROI with its expectation."""
    return [*evaluate_plan_itself(plan), _actual_effect(plan, today or store_today(plan), actuals)]


def evaluate_plan_itself(plan: MarketingPlan) -> list[Point]:
    """Points 1–7: no query beyond the plan's prefetched goals, campaigns and milestones."""
    goals = list(plan.goals.all())
    links = list(plan.plan_campaigns.all())
    milestones = list(plan.milestones.all())
    forecast = cost_forecast(plan)
    labels = dict(PLAN_PARTS)
    points = []

    missing = [labels[name] for name, _label in PLAN_PARTS if not getattr(plan, name).strip()]
    points.append(Point(1, _("Complete: every part of the plan is written"), not missing,
                        [_("Missing parts: %(parts)s.") % {"parts": _names(missing)}] if missing
                        else [_("All twelve parts are filled.")]))

    reasons = []
    summary = plan.executive_summary.strip()
    if not summary:
        reasons.append(_("There is no executive summary."))
    elif len(summary) > SUMMARY_MAX_CHARS:
        reasons.append(_("The executive summary has %(n)d characters; keep it within %(max)d.")
                       % {"n": len(summary), "max": SUMMARY_MAX_CHARS})
    long_parts = [labels[name] for name, _label in PLAN_PARTS if len(getattr(plan, name).strip()) > PART_MAX_CHARS]
    if long_parts:
        reasons.append(_("Parts longer than %(max)d characters: %(parts)s.")
                       % {"max": PART_MAX_CHARS, "parts": _names(long_parts)})
    points.append(Point(2, _("Concise"), not reasons, reasons or [
        _("The executive summary fits in %(max)d characters and no part exceeds %(part)d.")
        % {"max": SUMMARY_MAX_CHARS, "part": PART_MAX_CHARS}]))

    if not goals:
        reasons = [_("The plan has no goals: set KPI targets with control lines.")]
    else:
        vague = [kpi_label(g.code) for g in goals if not g.measure.strip()]
        reasons = [_("Goals without measures: %(goals)s.") % {"goals": _names(vague)}] if vague else []
    points.append(Point(3, _("Specific goals with measures"), not reasons, reasons or [
        _("%(n)d goals, each a KPI target with a control line and its measures.") % {"n": len(goals)}]))

    reasons = []
    if not links:
        reasons.append(_("No campaign is linked to the plan."))
    if not plan.marketing_mix.strip():
        reasons.append(_("The marketing mix is not written."))
    points.append(Point(4, _("Concrete actions and activities"), not reasons, reasons or [
        _("%(n)d campaigns carry out the marketing mix.") % {"n": len(links)}]))

    reasons = []
    sales_goals = [g for g in goals if g.code in KPIS and KPIS[g.code].family == SALES]
    if not sales_goals:
        reasons.append(_("No sales goal (orders, deliveries, close rate, gross profit...)."))
    if plan.budget <= 0:
        reasons.append(_("The plan has no budget."))
    elif forecast.over_budget:
        reasons.append(_("The campaigns' budgets (%(total)s) exceed the plan's budget (%(budget)s) by %(diff)s.")
                       % {"total": f"{forecast.total:,.2f}", "budget": f"{plan.budget:,.2f}",
                          "diff": f"{forecast.difference:,.2f}"})
    points.append(Point(5, _("Sales goals with a budget"), not reasons, reasons or [
        _("Sales goals: %(goals)s; campaigns cost %(total)s of a budget of %(budget)s.")
        % {"goals": _names(kpi_label(g.code) for g in sales_goals), "total": f"{forecast.total:,.2f}",
           "budget": f"{plan.budget:,.2f}"}]))

    reasons = []
    if not plan.schedule.strip():
        reasons.append(_("The schedule is not written."))
    if not milestones:
        reasons.append(_("The plan has no milestones."))
    late = [m.title for m in milestones if m.due_on > plan.last_day]
    if late:
        reasons.append(_("Milestones due after the period ends: %(items)s.") % {"items": _names(late)})
    points.append(Point(6, _("Schedule and milestones"), not reasons, reasons or [
        _("%(n)d milestones, all due by %(end)s.") % {"n": len(milestones), "end": plan.last_day.isoformat()}]))

    reasons = []
    if not plan.organisation.strip():
        reasons.append(_("The organisation is not written."))
    if not milestones:
        reasons.append(_("The plan has no milestones to give owners to."))
    orphans = [m.title for m in milestones if m.owner_id is None]
    if orphans:
        reasons.append(_("Milestones without an owner: %(items)s.") % {"items": _names(orphans)})
    points.append(Point(7, _("Clear responsibilities"), not reasons, reasons or [
        _("Every milestone has an owner.")]))

    return points


def _actual_effect(plan: MarketingPlan, today: dt.date,
                   actuals: tuple[list[GoalActual], list[CampaignActual]] | None) -> Point:
    title = _("Actual effect")
    if today < plan.last_day:
        return Point(8, title, None, [_("Judged at the end of the period (%(end)s).")
                                      % {"end": plan.last_day.isoformat()}])
    goal_rows, campaign_rows = actuals or plan_actuals(plan)
    reasons = []
    if not goal_rows:
        reasons.append(_("The plan has no goals to compare with the results."))
    unknown = [g.label for g in goal_rows if g.status == "none"]
    missed = [g.label for g in goal_rows if g.status in ("warn", "alert")]
    if missed:
        reasons.append(_("Goals missed: %(goals)s.") % {"goals": _names(missed)})
    if unknown:
        reasons.append(_("No KPI value yet for: %(goals)s.") % {"goals": _names(unknown)})
    below = [c.link.campaign.name for c in campaign_rows if c.met is False]
    no_roi = [c.link.campaign.name for c in campaign_rows if c.met is None]
    if below:
        reasons.append(_("Campaigns below their expected ROI: %(items)s.") % {"items": _names(below)})
    if no_roi:
        reasons.append(_("No ROI computed yet for: %(items)s.") % {"items": _names(no_roi)})
    return Point(8, title, not reasons, reasons or [
        _("Every goal was met and every campaign reached its expected ROI.")])


def plan_list_rows(user: User) -> QuerySet[MarketingPlan]:
    return plans_for_user(user).order_by("-period", "dealership__code", "pk")


def with_points_passed(plans: list[MarketingPlan]) -> list[MarketingPlan]:
    """Give each plan (one page of a list) `points_passed`: how many of the seven points read from the
    plan itself it passes (the eighth needs the KPI tables: it is on the plan's page). Three queries."""
    prefetch_related_objects(plans, "goals", "milestones",
                             Prefetch("plan_campaigns", queryset=PlanCampaign.objects.select_related("campaign")))
    for plan in plans:
        plan.points_passed = sum(1 for p in evaluate_plan_itself(plan) if p.passed)
    return plans

"""Writes of marketing plans. Every write is keyword-only, atomic, and validates before it touches a row.

Goals are KPI targets: while a plan is a draft they are only the plan's; approving it makes them the
store's targets and control lines (kpis.services.kpi_target_set), and a goal changed on an approved plan
is passed on at once. A draft never overwrites the live targets, so a half-written plan cannot turn the
store's dashboard red.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.services import campaign_create, traffic_plan_set
from dealership.models import Dealership, User
from dealership.services import check_same_store
from kpis.registry import KPIS
from plans.models import (PART_FIELDS, GoalDirection, MarketingPlan, PeriodKind, PlanCampaign, PlanGoal,
                          PlanMilestone, PlanStatus)
from plans.selectors import capability_summary

PLAN_FIELDS = ("title", "budget", *PART_FIELDS)
QUARTER_STARTS = (1, 4, 7, 10)
TRAFFIC_GOAL = "traffic"


def _check_period(period: dt.date | None, period_kind: str) -> None:
    if period_kind not in PeriodKind.values:
        raise ValidationError({"period_kind": _("Choose a month or a quarter.")})
    if period is None:
        raise ValidationError({"period": _("Give the plan's period (YYYY-MM).")})
    if period.day != 1:
        raise ValidationError({"period": _("A period starts on the first day of a month.")})
    if period_kind == PeriodKind.QUARTER and period.month not in QUARTER_STARTS:
        raise ValidationError({"period": _("A quarter starts in January, April, July or October.")})


def _check_budget(budget) -> Decimal:
    try:
        value = Decimal(str(budget))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"budget": _("Enter the budget as an amount of money.")}) from None
    if not value.is_finite() or value < 0:
        raise ValidationError({"budget": _("A budget cannot be negative.")})
    return value.quantize(Decimal("0.01"))


def _check_editable(plan: MarketingPlan) -> None:
    if plan.status == PlanStatus.CLOSED:
        raise ValidationError({"status": _("This plan is closed: it can no longer be changed.")})


def _locked(plan: MarketingPlan) -> MarketingPlan:
    # Writes to a plan's children lock the plan row, so an approval cannot race a goal edit.
    return MarketingPlan.objects.select_for_update().select_related("dealership").get(pk=plan.pk)


@transaction.atomic
def plan_create(
    *, dealership: Dealership, period: dt.date, period_kind: str = PeriodKind.MONTH, by: User | None = None,
    external_id: str | None = None, prefill_capability: bool = True, copy_from: MarketingPlan | None = None,
    **fields,
) -> MarketingPlan:
    """Create a plan (or update the one an external_id names); its capability analysis is pre-filled
    from the KPI values of the months before the period unless one is given.

    `copy_from` starts from an earlier plan of the same store: its parts, budget and goals (not its
    title; not its campaigns and milestones, which are dated; not its capability analysis, recomputed).
    Fields given explicitly win over the copied ones.
    """
    if copy_from is not None:
        check_same_store(dealership, copy_from=copy_from)
        copied = {name: getattr(copy_from, name) for name in PLAN_FIELDS if name not in ("title", "capability_analysis")}
        fields = {**copied, **{k: v for k, v in fields.items() if v not in (None, "")}}
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise TypeError(f"unknown plan fields: {sorted(unknown)}")
    if external_id:
        existing = MarketingPlan.objects.filter(dealership=dealership, external_id=external_id).first()
        if existing is not None:
            return plan_update(plan=existing, period=period, period_kind=period_kind, **fields)
    _check_period(period, period_kind)
    if MarketingPlan.objects.filter(dealership=dealership, period=period, period_kind=period_kind).exists():
        raise ValidationError({"period": _("This store already has a plan for this period.")})
    plan = MarketingPlan(dealership=dealership, period=period, period_kind=period_kind, created_by=by,
                         external_id=external_id or None)
    for key, value in fields.items():
        setattr(plan, key, value)
    plan.budget = _check_budget(plan.budget)
    if prefill_capability and not plan.capability_analysis.strip():
        plan.capability_analysis = capability_summary(dealership=dealership, before=period)
    plan.full_clean(exclude=["dealership", "created_by", "approved_by"], validate_unique=False)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:  # a concurrent create of the same period won the race
        raise ValidationError({"period": _("This store already has a plan for this period.")}) from None
    if copy_from is not None:
        PlanGoal.objects.bulk_create([
            PlanGoal(plan=plan, code=g.code, target=g.target, control_line=g.control_line, direction=g.direction,
                     measure=g.measure) for g in copy_from.goals.all()])
    return plan


@transaction.atomic
def plan_update(*, plan: MarketingPlan, period: dt.date | None = None, period_kind: str | None = None,
                **fields) -> MarketingPlan:
    plan = _locked(plan)
    _check_editable(plan)
    for key, value in fields.items():
        if key not in PLAN_FIELDS:
            raise TypeError(f"unknown plan field: {key}")
        setattr(plan, key, value)
    if period is not None or period_kind is not None:
        new_period, new_kind = period or plan.period, period_kind or plan.period_kind
        if (new_period, new_kind) != (plan.period, plan.period_kind):
            if plan.status != PlanStatus.DRAFT:
                raise ValidationError({"period": _("Only a draft plan can move to another period.")})
            _check_period(new_period, new_kind)
            clash = MarketingPlan.objects.filter(dealership=plan.dealership, period=new_period,
                                                 period_kind=new_kind).exclude(pk=plan.pk)
            if clash.exists():
                raise ValidationError({"period": _("This store already has a plan for this period.")})
            plan.period, plan.period_kind = new_period, new_kind
    plan.budget = _check_budget(plan.budget)
    plan.full_clean(exclude=["dealership", "created_by", "approved_by"], validate_unique=False)
    plan.save()
    return plan


@transaction.atomic
def plan_capability_refresh(*, plan: MarketingPlan) -> MarketingPlan:
    """Rewrite the capability analysis from the latest KPI values (the user asked for it)."""
    plan = _locked(plan)
    _check_editable(plan)
    plan.capability_analysis = capability_summary(dealership=plan.dealership, before=plan.period)
    plan.save(update_fields=["capability_analysis", "updated_at"])
    return plan


def _goal_apply(goal: PlanGoal, plan: MarketingPlan) -> None:
    """Make an approved plan's goal the store's: its KPI target and, for traffic, the planned traffic.

    The traffic goal is the month's 计划客流 too (traffic_achievement = traffic / traffic_plan), so the
    plan and the traffic plan cannot disagree. Goals are monthly, so each month of a quarter gets it.
    """
    # kpis sits below plans: its service owns the target table and its rules.
    from kpis.services import kpi_target_set

    kpi_target_set(dealership=plan.dealership, code=goal.code, target=goal.target,
                   control_line=goal.control_line, direction=goal.direction)
    if goal.code == TRAFFIC_GOAL and goal.target >= 0:
        for month in plan.months:
            traffic_plan_set(dealership=plan.dealership, period=month, planned_traffic=round(goal.target))


@transaction.atomic
def plan_approve(*, plan: MarketingPlan, by: User) -> MarketingPlan:
    """Approve a plan: its goals become the store's KPI targets and control lines."""
    plan = _locked(plan)
    if not by.is_manager:
        raise ValidationError({"status": _("Only a manager can approve a plan.")})
    if plan.status == PlanStatus.CLOSED:
        raise ValidationError({"status": _("This plan is closed: it can no longer be changed.")})
    for goal in plan.goals.all():
        _goal_apply(goal, plan)
    plan.status, plan.approved_by, plan.approved_at = PlanStatus.APPROVED, by, timezone.now()
    plan.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    return plan


@transaction.atomic
def plan_close(*, plan: MarketingPlan, by: User) -> MarketingPlan:
    plan = _locked(plan)
    if not by.is_manager:
        raise ValidationError({"status": _("Only a manager can close a plan.")})
    if plan.status != PlanStatus.APPROVED:
        raise ValidationError({"status": _("Only an approved plan can be closed.")})
    plan.status = PlanStatus.CLOSED
    plan.save(update_fields=["status", "updated_at"])
    return plan


@transaction.atomic
def plan_delete(*, plan: MarketingPlan) -> None:
    plan = _locked(plan)
    if plan.status != PlanStatus.DRAFT:
        raise ValidationError({"status": _("Only a draft plan can be deleted.")})
    plan.delete()


def _check_goal(*, code: str, target, control_line, direction: str | None) -> tuple[float, float, str]:
    errors: dict[str, str] = {}
    definition = KPIS.get(code)
    if definition is None:
        errors["code"] = _("Unknown KPI code: %(code)s") % {"code": code}
    direction = direction or (definition.direction if definition else None)
    if direction not in GoalDirection.values:
        errors["direction"] = _("Say whether higher or lower is better.")
    values = {}
    for field, raw in (("target", target), ("control_line", control_line)):
        try:
            values[field] = float(raw)
            if values[field] != values[field] or values[field] in (float("inf"), float("-inf")):
                raise ValueError
        except (TypeError, ValueError):
            errors[field] = _("Enter a number.")
    if not errors:
        bad_side = (values["control_line"] <= values["target"] if direction == GoalDirection.HIGHER
                    else values["control_line"] >= values["target"])
        if not bad_side:
            errors["control_line"] = (
                _("Where higher is better, the control line must be at or below the target.")
                if direction == GoalDirection.HIGHER
                else _("Where lower is better, the control line must be at or above the target.")
            )
    if errors:
        raise ValidationError(errors)
    return values["target"], values["control_line"], direction


@transaction.atomic
def plan_goal_set(*, plan: MarketingPlan, code: str, target, control_line, direction: str | None = None,
                  measure: str = "") -> PlanGoal:
    """Set (create or replace) the plan's goal for one KPI; on an approved plan, the store's target too.

    The direction defaults to the KPI's own direction in the registry.
    """
    plan = _locked(plan)
    _check_editable(plan)
    target, control_line, direction = _check_goal(code=code, target=target, control_line=control_line,
                                                  direction=direction)
    goal, _created = PlanGoal.objects.update_or_create(
        plan=plan, code=code,
        defaults={"target": target, "control_line": control_line, "direction": direction,
                  "measure": measure or ""},
    )
    if plan.status == PlanStatus.APPROVED:
        _goal_apply(goal, plan)
    return goal


@transaction.atomic
def plan_goal_delete(*, goal: PlanGoal) -> None:
    # The store's target stays: removing a goal from the plan is not lifting the store's control line.
    _check_editable(_locked(goal.plan))
    goal.delete()


def _check_roi(expected_roi) -> float | None:
    if expected_roi in (None, ""):
        return None
    try:
        value = float(expected_roi)
    except (TypeError, ValueError):
        raise ValidationError({"expected_roi": _("Enter the expected ROI as a number (0.5 = 50%).")}) from None
    if value != value or value < -1:
        raise ValidationError({"expected_roi": _("An ROI cannot be below -100%.")})
    return value


@transaction.atomic
def plan_campaign_link(*, plan: MarketingPlan, campaign: Campaign, expected_roi=None) -> PlanCampaign:
    """Link a campaign of the same store to the plan (linking it again updates the expected ROI)."""
    plan = _locked(plan)
    _check_editable(plan)
    check_same_store(plan.dealership, campaign=campaign)
    link, _created = PlanCampaign.objects.update_or_create(
        plan=plan, campaign=campaign, defaults={"expected_roi": _check_roi(expected_roi)}
    )
    return link


@transaction.atomic
def plan_campaign_create(*, plan: MarketingPlan, expected_roi=None, **campaign_fields) -> PlanCampaign:
    """Create a new campaign of the plan's store and link it (one transaction: both or neither)."""
    plan = _locked(plan)
    _check_editable(plan)
    roi = _check_roi(expected_roi)
    campaign = campaign_create(dealership=plan.dealership, **campaign_fields)
    return PlanCampaign.objects.create(plan=plan, campaign=campaign, expected_roi=roi)


@transaction.atomic
def plan_campaign_unlink(*, link: PlanCampaign) -> None:
    # The campaign itself stays: it has costs and leads of its own.
    _check_editable(_locked(link.plan))
    link.delete()


@transaction.atomic
def plan_milestone_create(*, plan: MarketingPlan, title: str, due_on: dt.date | None, owner: User | None = None,
                          done_on: dt.date | None = None) -> PlanMilestone:
    plan = _locked(plan)
    _check_editable(plan)
    milestone = PlanMilestone(plan=plan)
    return _milestone_save(milestone, plan, title=title, due_on=due_on, owner=owner, done_on=done_on)


@transaction.atomic
def plan_milestone_update(*, milestone: PlanMilestone, **fields) -> PlanMilestone:
    plan = _locked(milestone.plan)
    _check_editable(plan)
    milestone = PlanMilestone.objects.select_for_update().get(pk=milestone.pk)
    values = {k: getattr(milestone, k) for k in ("title", "due_on", "owner", "done_on")}
    unknown = set(fields) - set(values)
    if unknown:
        raise TypeError(f"unknown milestone fields: {sorted(unknown)}")
    values.update(fields)
    return _milestone_save(milestone, plan, **values)


def _milestone_save(milestone: PlanMilestone, plan: MarketingPlan, *, title: str, due_on: dt.date | None,
                    owner: User | None, done_on: dt.date | None) -> PlanMilestone:
    errors: dict[str, str] = {}
    if not (title or "").strip():
        errors["title"] = _("Name the milestone.")
    if due_on is None:
        errors["due_on"] = _("Give the date the milestone is due.")
    if owner is not None and (owner.dealership_id != plan.dealership_id or not owner.is_active):
        errors["owner"] = _("The owner must be an active member of this store's staff.")
    if errors:
        raise ValidationError(errors)
    milestone.title, milestone.due_on, milestone.owner, milestone.done_on = title.strip(), due_on, owner, done_on
    milestone.save()
    return milestone


@transaction.atomic
def plan_milestone_delete(*, milestone: PlanMilestone) -> None:
    _check_editable(_locked(milestone.plan))
    milestone.delete()

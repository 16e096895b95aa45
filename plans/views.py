"""Plan pages for managers and marketing: parse, authorise, call one service, render."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dealership.audit import audit_record
from dealership.models import Role
from dealership.selectors import dealerships_for_user
from plans import services
from plans.export import plan_workbook
from plans.forms import (CampaignLinkForm, CampaignNewForm, GoalForm, MilestoneForm, PlanCreateForm, PlanForm,
                         form_errors_from)
from plans.models import PLAN_PARTS, MarketingPlan, PlanStatus
from plans.selectors import (capability, cost_forecast, evaluate, linkable_campaigns, plan_actuals,
                             plan_get_for_user, plan_list_rows, plan_staff, with_points_passed)

PLANNERS = (Role.MANAGER, Role.GROUP_MANAGER, Role.MARKETING)
PLANS_PER_PAGE = 50


def planner_required(view: Callable) -> Callable:
    """Plans are the work of marketing and managers; consultants and advisors do not see them."""
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not (request.user.is_superuser or request.user.role in PLANNERS):
            raise PermissionDenied
        return view(request, *args, **kwargs)
    return wrapped


def _editable(plan: MarketingPlan) -> bool:
    return plan.status != PlanStatus.CLOSED


def _plan_context(plan: MarketingPlan) -> dict:
    actuals = plan_actuals(plan)
    return {
        "plan": plan,
        "parts": [(label, getattr(plan, name)) for name, label in PLAN_PARTS],
        "capability": capability(dealership=plan.dealership, before=plan.period),
        "forecast": cost_forecast(plan),
        "evaluation": evaluate(plan, actuals=actuals),
        "goal_rows": actuals[0],
        "campaign_rows": actuals[1],
        "milestones": list(plan.milestones.all()),
    }


@planner_required
def plan_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(plan_list_rows(request.user), PLANS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "plans/plan_list.html", {"plans": with_points_passed(list(page)), "page": page})


@planner_required
def plan_create(request: HttpRequest) -> HttpResponse:
    form = PlanCreateForm(request.POST or None, dealerships=dealerships_for_user(request.user),
                          plans=plan_list_rows(request.user)[:36])
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            budget = {} if data["budget"] is None else {"budget": data["budget"]}  # empty: copied, or 0
            plan = services.plan_create(dealership=data["dealership"], period=data["period"],
                                        period_kind=data["period_kind"], title=data["title"],
                                        copy_from=data["copy_from"], by=request.user, **budget)
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            return redirect("plans:edit", pk=plan.pk)
    return render(request, "plans/form.html", {"form": form, "heading": _("New marketing plan")})


@planner_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = plan_get_for_user(request.user, pk)
    context = _plan_context(plan)
    context["editable"] = _editable(plan)
    return render(request, "plans/plan_detail.html", context)


@planner_required
def plan_print(request: HttpRequest, pk: int) -> HttpResponse:
    plan = plan_get_for_user(request.user, pk)
    return render(request, "plans/plan_print.html", _plan_context(plan))


@planner_required
def plan_export(request: HttpRequest, pk: int) -> HttpResponse:
    plan = plan_get_for_user(request.user, pk)
    # Every file taken out of the system is an entry of the audit trail, like the list pages' CSVs.
    audit_record(action="export", model="plans.MarketingPlan", object_id=plan.pk, object_repr=str(plan),
                 dealership_id=plan.dealership_id)
    response = HttpResponse(
        plan_workbook(plan, _plan_context(plan)),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="plan-{plan.dealership.code}-{plan.period_label}.xlsx"'
    return response


@planner_required
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = plan_get_for_user(request.user, pk)
    form = PlanForm(request.POST or None, instance=plan)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            services.plan_update(plan=plan, **fields)
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(request, _("The plan is saved."))
            return redirect("plans:detail", pk=plan.pk)
    return render(request, "plans/form.html", {"form": form, "plan": plan, "heading": _("Edit the plan")})


def _child_form(request: HttpRequest, pk: int, make_form: Callable, save: Callable, heading: str) -> HttpResponse:
    """The shape of every 'add X to the plan' page: scoped plan, form, one service call, back to the plan."""
    plan = plan_get_for_user(request.user, pk)
    form = make_form(plan, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            save(plan, form.cleaned_data)
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            return redirect("plans:detail", pk=plan.pk)
    return render(request, "plans/form.html", {"form": form, "plan": plan, "heading": heading})


@planner_required
def goal_add(request: HttpRequest, pk: int) -> HttpResponse:
    def make_form(plan, data):
        # ?code= opens the plan's goal for that KPI to change it (setting it again replaces it).
        goal = next((g for g in plan.goals.all() if g.code == request.GET.get("code")), None)
        initial = {k: getattr(goal, k) for k in ("code", "target", "control_line", "direction", "measure")} if goal else None
        return GoalForm(data, initial=initial)

    return _child_form(
        request, pk, make_form,
        lambda plan, d: services.plan_goal_set(plan=plan, code=d["code"], target=d["target"],
                                               control_line=d["control_line"], direction=d["direction"] or None,
                                               measure=d["measure"]),
        _("Set a goal"))


@planner_required
def campaign_link(request: HttpRequest, pk: int) -> HttpResponse:
    return _child_form(
        request, pk, lambda plan, data: CampaignLinkForm(data, campaigns=linkable_campaigns(plan)),
        lambda plan, d: services.plan_campaign_link(plan=plan, campaign=d["campaign"], expected_roi=d["expected_roi"]),
        _("Link a campaign"))


@planner_required
def campaign_new(request: HttpRequest, pk: int) -> HttpResponse:
    def save(plan, d):
        fields = {k: v for k, v in d.items() if k != "expected_roi"}
        services.plan_campaign_create(plan=plan, expected_roi=d["expected_roi"], **fields)
    return _child_form(request, pk, lambda plan, data: CampaignNewForm(data), save, _("New campaign for the plan"))


@planner_required
def milestone_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _child_form(
        request, pk, lambda plan, data: MilestoneForm(data, staff=plan_staff(plan)),
        lambda plan, d: services.plan_milestone_create(plan=plan, title=d["title"], due_on=d["due_on"],
                                                       owner=d["owner"]),
        _("Add a milestone"))


def _post_action(request: HttpRequest, pk: int, action: Callable, done: str) -> HttpResponse:
    plan = plan_get_for_user(request.user, pk)
    try:
        action(plan)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("plans:detail", pk=plan.pk)


@require_POST
@planner_required
def plan_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_action(request, pk, lambda plan: services.plan_approve(plan=plan, by=request.user),
                        _("The plan is approved: its goals are now the store's KPI targets."))


@require_POST
@planner_required
def plan_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_action(request, pk, lambda plan: services.plan_close(plan=plan, by=request.user),
                        _("The plan is closed."))


@require_POST
@planner_required
def capability_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_action(request, pk, lambda plan: services.plan_capability_refresh(plan=plan),
                        _("The capability analysis is rewritten from the latest KPI values."))


@require_POST
@planner_required
def goal_delete(request: HttpRequest, pk: int, goal_pk: int) -> HttpResponse:
    return _post_action(request, pk, lambda plan: services.plan_goal_delete(
        goal=get_object_or_404(plan.goals, pk=goal_pk)), _("The goal is removed."))


@require_POST
@planner_required
def campaign_unlink(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    return _post_action(request, pk, lambda plan: services.plan_campaign_unlink(
        link=get_object_or_404(plan.plan_campaigns, pk=link_pk)), _("The campaign is unlinked."))


@require_POST
@planner_required
def milestone_done(request: HttpRequest, pk: int, milestone_pk: int) -> HttpResponse:
    return _post_action(request, pk, lambda plan: services.plan_milestone_update(
        milestone=get_object_or_404(plan.milestones, pk=milestone_pk),
        done_on=timezone.localdate()), _("The milestone is done."))


@require_POST
@planner_required
def milestone_delete(request: HttpRequest, pk: int, milestone_pk: int) -> HttpResponse:
    return _post_action(request, pk, lambda plan: services.plan_milestone_delete(
        milestone=get_object_or_404(plan.milestones, pk=milestone_pk)), _("The milestone is removed."))

"""Writing a plan: periods, budget, goals that become the store's targets, campaigns, milestones; bad
input is refused field by field and nothing is written half-way."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from campaigns.models import Campaign
from kpis.models import KpiTarget
from plans import services
from plans.models import MarketingPlan, PlanCampaign, PlanGoal, PlanStatus
from tests.factories import CampaignFactory, KpiValueFactory, UserFactory
from tests.plans.conftest import MARCH


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.message_dict


def test_a_new_plan_gets_its_capability_analysis_from_the_last_months_kpis(store, manager):
    for code, value in [("capture_rate", 0.42), ("retention_rate", 0.18), ("funnel_close_rate", 0.35),
                        ("return_rate", 0.8), ("keep_rate", 0.5)]:
        KpiValueFactory(dealership=store, period=dt.date(2025, 2, 1), code=code, value=value)
        KpiValueFactory(dealership=store, period=dt.date(2025, 1, 1), code=code, value=value + 0.02)
    KpiValueFactory(dealership=store, period=MARCH, code="retention_rate", value=0.01)  # the plan's own month
    with translation.override("en"):
        plan = services.plan_create(dealership=store, period=MARCH, by=manager)
    assert "2024-09 to 2025-02" in plan.capability_analysis
    assert "Weakest gate: Retention rate (19.0%)" in plan.capability_analysis
    assert plan.created_by == manager and plan.status == PlanStatus.DRAFT


def test_a_capability_analysis_written_by_hand_is_kept(store, manager):
    plan = services.plan_create(dealership=store, period=MARCH, capability_analysis="留客率偏低")
    assert plan.capability_analysis == "留客率偏低"


def test_without_kpi_values_the_capability_analysis_says_to_recompute(store):
    with translation.override("en"):
        plan = services.plan_create(dealership=store, period=MARCH)
    assert "recompute the KPIs" in plan.capability_analysis


@pytest.mark.parametrize("period,kind,field", [
    (dt.date(2025, 3, 2), "month", "period"),
    (dt.date(2025, 2, 1), "quarter", "period"),
    (None, "month", "period"),
    (MARCH, "year", "period_kind"),
])
def test_a_plan_period_is_a_month_or_a_quarter(store, period, kind, field):
    assert field in errors_of(lambda: services.plan_create(dealership=store, period=period, period_kind=kind))
    assert not MarketingPlan.objects.exists()


def test_a_quarter_covers_three_months(store):
    plan = services.plan_create(dealership=store, period=dt.date(2025, 4, 1), period_kind="quarter")
    assert plan.months == [dt.date(2025, 4, 1), dt.date(2025, 5, 1), dt.date(2025, 6, 1)]
    assert plan.last_day == dt.date(2025, 6, 30) and plan.period_label == "2025-Q2"


def test_a_store_has_one_plan_per_period(plan, store):
    assert "period" in errors_of(lambda: services.plan_create(dealership=store, period=MARCH))


@pytest.mark.parametrize("budget", ["-1", "abc", None])
def test_a_budget_is_an_amount_not_below_zero(store, budget):
    assert "budget" in errors_of(lambda: services.plan_create(dealership=store, period=MARCH, budget=budget))


def test_an_external_id_makes_the_create_an_update(store):
    first = services.plan_create(dealership=store, period=MARCH, external_id="DMS-7", title="一")
    again = services.plan_create(dealership=store, period=MARCH, external_id="DMS-7", title="二")
    assert again.pk == first.pk and MarketingPlan.objects.get().title == "二"


def test_a_goal_takes_the_kpis_own_direction(plan):
    goal = services.plan_goal_set(plan=plan, code="cost_per_visitor", target=200, control_line=260)
    assert goal.direction == "lower"


def test_a_goal_for_a_kpi_again_replaces_it(plan):
    services.plan_goal_set(plan=plan, code="traffic", target=600, control_line=500)
    services.plan_goal_set(plan=plan, code="traffic", target=650, control_line=550)
    assert list(plan.goals.values_list("target", flat=True)) == [650]


@pytest.mark.parametrize("kwargs,field", [
    ({"code": "nonsense", "target": 1, "control_line": 1}, "code"),
    ({"code": "traffic", "target": "many", "control_line": 1}, "target"),
    ({"code": "traffic", "target": 600, "control_line": 700}, "control_line"),
    ({"code": "cost_per_visitor", "target": 200, "control_line": 150}, "control_line"),
    ({"code": "traffic", "target": 600, "control_line": 500, "direction": "up"}, "direction"),
])
def test_a_bad_goal_is_refused_on_its_field(plan, kwargs, field):
    assert field in errors_of(lambda: services.plan_goal_set(plan=plan, **kwargs))
    assert not PlanGoal.objects.exists()


def test_bad_input_is_explained_in_chinese_too(plan):
    with translation.override("zh-hans"):
        errors = errors_of(lambda: services.plan_goal_set(plan=plan, code="traffic", target=600, control_line=700))
    assert "控制线" in errors["control_line"][0]


def test_approving_a_plan_sets_the_stores_targets_and_control_lines(plan, store, other_store, manager):
    services.plan_goal_set(plan=plan, code="traffic", target=600, control_line=500)
    services.plan_goal_set(plan=plan, code="cost_per_visitor", target=200, control_line=260)
    assert not KpiTarget.objects.filter(dealership=store).exists()  # a draft does not touch the targets
    services.plan_approve(plan=plan, by=manager)
    targets = {t.code: (t.target, t.control_line, t.direction) for t in KpiTarget.objects.filter(dealership=store)}
    assert targets == {"traffic": (600, 500, "higher"), "cost_per_visitor": (200, 260, "lower")}
    assert not KpiTarget.objects.filter(dealership=other_store).exists()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED and plan.approved_by == manager


def test_a_goal_changed_on_an_approved_plan_changes_the_stores_target(plan, store, manager):
    services.plan_approve(plan=plan, by=manager)
    services.plan_goal_set(plan=plan, code="orders", target=90, control_line=80)
    assert KpiTarget.objects.get(dealership=store, code="orders").target == 90


def test_marketing_drafts_but_only_a_manager_approves(plan, marketing):
    assert "status" in errors_of(lambda: services.plan_approve(plan=plan, by=marketing))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_a_closed_plan_can_no_longer_be_changed(plan, manager):
    services.plan_approve(plan=plan, by=manager)
    services.plan_close(plan=plan, by=manager)
    assert "status" in errors_of(lambda: services.plan_update(plan=plan, title="改"))
    assert "status" in errors_of(lambda: services.plan_goal_set(plan=plan, code="traffic", target=1, control_line=1))


def test_a_draft_plan_cannot_be_closed(plan, manager):
    assert "status" in errors_of(lambda: services.plan_close(plan=plan, by=manager))


def test_a_campaign_of_another_store_cannot_be_linked(plan, other_store):
    foreign = CampaignFactory(dealership=other_store)
    assert "campaign" in errors_of(lambda: services.plan_campaign_link(plan=plan, campaign=foreign))
    assert not PlanCampaign.objects.exists()


def test_a_campaign_created_for_the_plan_is_the_stores_and_linked(plan, store):
    link = services.plan_campaign_create(plan=plan, name="抖音直播", channel="social", budget=Decimal("20000"),
                                         starts_on=dt.date(2025, 3, 1), ends_on=dt.date(2025, 3, 31),
                                         expected_roi=0.5)
    assert link.campaign.dealership == store and link.expected_roi == 0.5


def test_a_bad_new_campaign_leaves_neither_campaign_nor_link(plan):
    errors = errors_of(lambda: services.plan_campaign_create(
        plan=plan, name="倒着的活动", channel="social", starts_on=dt.date(2025, 3, 9), ends_on=dt.date(2025, 3, 1)))
    assert "ends_on" in errors
    assert not Campaign.objects.exists() and not PlanCampaign.objects.exists()


def test_an_expected_roi_is_a_number(plan, store):
    campaign = CampaignFactory(dealership=store)
    assert "expected_roi" in errors_of(lambda: services.plan_campaign_link(plan=plan, campaign=campaign,
                                                                           expected_roi="high"))


def test_a_milestone_owner_works_in_the_plans_store(plan, other_manager, marketing):
    errors = errors_of(lambda: services.plan_milestone_create(plan=plan, title="车展", due_on=MARCH,
                                                              owner=other_manager))
    assert "owner" in errors
    milestone = services.plan_milestone_create(plan=plan, title="车展", due_on=MARCH, owner=marketing)
    assert milestone.owner == marketing


def test_a_milestone_needs_a_title_and_a_date(plan):
    errors = errors_of(lambda: services.plan_milestone_create(plan=plan, title=" ", due_on=None))
    assert set(errors) == {"title", "due_on"}


def test_an_inactive_member_of_staff_owns_nothing(plan, store):
    gone = UserFactory(dealership=store, is_active=False)
    assert "owner" in errors_of(lambda: services.plan_milestone_create(plan=plan, title="x", due_on=MARCH,
                                                                       owner=gone))


def test_the_traffic_goal_of_an_approved_quarter_is_the_planned_traffic_of_each_month(store, manager):
    from campaigns.models import TrafficPlan

    plan = services.plan_create(dealership=store, period=dt.date(2025, 4, 1), period_kind="quarter")
    services.plan_goal_set(plan=plan, code="traffic", target=600, control_line=500)
    assert not TrafficPlan.objects.exists()
    services.plan_approve(plan=plan, by=manager)
    assert sorted(TrafficPlan.objects.values_list("period", "planned_traffic")) == [
        (dt.date(2025, 4, 1), 600), (dt.date(2025, 5, 1), 600), (dt.date(2025, 6, 1), 600)]
    services.plan_goal_set(plan=plan, code="traffic", target=650, control_line=550)
    assert set(TrafficPlan.objects.values_list("planned_traffic", flat=True)) == {650}


def test_the_demo_writes_an_approved_plan_for_last_month_and_a_draft_for_this_one(store, manager, marketing):
    from django.utils import timezone

    from plans.demo import demo_plans_create
    from plans.models import add_months

    this_month = timezone.localdate().replace(day=1)
    KpiValueFactory(dealership=store, period=add_months(this_month, -2), code="traffic", value=500)
    CampaignFactory(dealership=store, budget=Decimal("30000"), starts_on=add_months(this_month, -1),
                    ends_on=add_months(this_month, -1) + dt.timedelta(days=5))
    assert demo_plans_create([store.pk]) == 2
    assert demo_plans_create([store.pk]) == 0  # run twice: nothing more
    last, current = MarketingPlan.objects.order_by("period")
    assert (last.status, current.status) == (PlanStatus.APPROVED, PlanStatus.DRAFT)
    assert last.goals.get(code="traffic").target == 540 and last.plan_campaigns.count() == 1
    assert KpiTarget.objects.get(dealership=store, code="traffic").target == 540
    assert all(m.owner == marketing for m in last.milestones.all())


def test_a_plan_can_start_from_last_months_parts_budget_and_goals(written_plan, store, manager):
    april = services.plan_create(dealership=store, period=dt.date(2025, 4, 1), copy_from=written_plan, by=manager,
                                 title="四月计划", strategy="")
    assert april.strategy == written_plan.strategy and april.budget == written_plan.budget
    assert april.title == "四月计划" and april.status == PlanStatus.DRAFT
    assert sorted(april.goals.values_list("code", "target")) == [("orders", 90), ("traffic", 600)]
    assert not april.plan_campaigns.exists() and not april.milestones.exists()


def test_a_plan_cannot_start_from_another_stores_plan(written_plan, other_store):
    errors = errors_of(lambda: services.plan_create(dealership=other_store, period=dt.date(2025, 4, 1),
                                                    copy_from=written_plan))
    assert "copy_from" in errors and not MarketingPlan.objects.filter(dealership=other_store).exists()

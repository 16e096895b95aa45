"""The 8-point evaluation (营销计划评估标准): each point passes on a written plan and fails for its reason."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from plans import services
from plans.models import PlanMilestone
from plans.selectors import SUMMARY_MAX_CHARS, evaluate, plan_get_for_user
from tests.factories import CampaignFactory, CampaignMetricFactory, KpiValueFactory

DURING = dt.date(2025, 3, 15)
AFTER = dt.date(2025, 4, 10)


def points(plan, manager, today=DURING):
    with translation.override("en"):
        return {p.number: p for p in evaluate(plan_get_for_user(manager, plan.pk), today=today)}


def test_a_written_plan_passes_the_first_seven_points_and_waits_for_the_eighth(written_plan, manager):
    result = points(written_plan, manager)
    assert [result[n].passed for n in range(1, 8)] == [True] * 7
    assert result[8].passed is None
    assert "2025-03-31" in result[8].reason


def test_a_plan_with_an_empty_part_is_not_complete(written_plan, manager):
    services.plan_update(plan=written_plan, strategy="  ")
    result = points(written_plan, manager)
    assert result[1].passed is False
    assert "Marketing strategy" in result[1].reason


def test_a_long_executive_summary_is_not_concise(written_plan, manager):
    services.plan_update(plan=written_plan, executive_summary="长" * (SUMMARY_MAX_CHARS + 1))
    result = points(written_plan, manager)
    assert result[2].passed is False
    assert str(SUMMARY_MAX_CHARS + 1) in result[2].reason
    assert result[1].passed is True


def test_goals_without_measures_are_not_specific(written_plan, manager):
    services.plan_goal_set(plan=written_plan, code="close_rate", target=0.3, control_line=0.25)
    result = points(written_plan, manager)
    assert result[3].passed is False
    assert "Close rate" in result[3].reason or "close" in result[3].reason.lower()


def test_a_plan_without_goals_has_no_specific_goals_and_no_sales_goal(plan, manager):
    result = points(plan, manager)
    assert result[3].passed is False and result[5].passed is False


def test_a_plan_without_campaigns_has_no_concrete_actions(written_plan, manager):
    for link in written_plan.plan_campaigns.all():
        services.plan_campaign_unlink(link=link)
    result = points(written_plan, manager)
    assert result[4].passed is False
    assert "No campaign" in result[4].reason


def test_campaign_budgets_above_the_plan_budget_fail_the_sales_goals_with_budget(written_plan, store, manager):
    extra = CampaignFactory(dealership=store, name="抖音直播", channel="social", budget=Decimal("50000"))
    services.plan_campaign_link(plan=written_plan, campaign=extra)
    result = points(written_plan, manager)
    assert result[5].passed is False
    assert "10,000.00" in result[5].reason  # 80,000 + 50,000 against 120,000


def test_only_traffic_goals_are_not_sales_goals(plan, manager):
    services.plan_goal_set(plan=plan, code="traffic", target=600, control_line=500, measure="车展邀约")
    result = points(plan, manager)
    assert result[5].passed is False
    assert "No sales goal" in result[5].reason


def test_a_milestone_after_the_period_breaks_the_schedule(written_plan, manager, marketing):
    services.plan_milestone_create(plan=written_plan, title="总结会", due_on=dt.date(2025, 4, 5), owner=marketing)
    result = points(written_plan, manager)
    assert result[6].passed is False
    assert "总结会" in result[6].reason


def test_a_milestone_without_an_owner_makes_responsibilities_unclear(written_plan, manager):
    services.plan_milestone_create(plan=written_plan, title="海报印刷", due_on=dt.date(2025, 3, 1))
    result = points(written_plan, manager)
    assert result[7].passed is False
    assert "海报印刷" in result[7].reason
    assert result[6].passed is True


def test_no_milestones_fail_schedule_and_responsibilities(written_plan, manager):
    PlanMilestone.objects.filter(plan=written_plan).delete()
    result = points(written_plan, manager)
    assert result[6].passed is False and result[7].passed is False


def _actuals(store, written_plan, *, traffic, orders, roi):
    KpiValueFactory(dealership=store, period=dt.date(2025, 3, 1), code="traffic", value=traffic)
    KpiValueFactory(dealership=store, period=dt.date(2025, 3, 1), code="orders", value=orders)
    campaign = written_plan.plan_campaigns.get().campaign
    CampaignMetricFactory(campaign=campaign, code="roi", value=roi)


def test_after_the_period_goals_met_and_roi_reached_pass_the_actual_effect(written_plan, store, manager):
    _actuals(store, written_plan, traffic=640, orders=92, roi=0.35)
    result = points(written_plan, manager, today=AFTER)
    assert result[8].passed is True


def test_after_the_period_a_missed_goal_fails_the_actual_effect(written_plan, store, manager):
    _actuals(store, written_plan, traffic=640, orders=70, roi=0.35)
    result = points(written_plan, manager, today=AFTER)
    assert result[8].passed is False
    assert "New car orders" in result[8].reason or "orders" in result[8].reason.lower()


def test_after_the_period_a_campaign_below_its_expected_roi_fails_the_actual_effect(written_plan, store, manager):
    _actuals(store, written_plan, traffic=640, orders=92, roi=0.1)
    result = points(written_plan, manager, today=AFTER)
    assert result[8].passed is False
    assert "春季车展" in result[8].reason


def test_after_the_period_missing_kpi_values_do_not_pass_the_actual_effect(written_plan, manager):
    result = points(written_plan, manager, today=AFTER)
    assert result[8].passed is False
    assert "No KPI value yet" in result[8].reason


def test_the_evaluation_speaks_chinese_to_a_chinese_user(written_plan, manager):
    services.plan_update(plan=written_plan, strategy="")
    with translation.override("zh-hans"):
        result = {p.number: p for p in evaluate(plan_get_for_user(manager, written_plan.pk), today=DURING)}
    assert result[1].title == "完整性：计划各部分齐全"
    assert "营销策略" in result[1].reason


@pytest.mark.parametrize("today,judged", [(dt.date(2025, 3, 30), False), (dt.date(2025, 3, 31), True)])
def test_the_actual_effect_is_judged_from_the_last_day_of_the_period(written_plan, manager, today, judged):
    assert (points(written_plan, manager, today=today)[8].passed is not None) is judged

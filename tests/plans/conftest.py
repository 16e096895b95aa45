"""A written plan: every part filled, sales and traffic goals with measures, a campaign within budget,
milestones with owners. Tests take it and break one thing at a time."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from plans import services
from plans.models import PART_FIELDS
from tests.factories import CampaignFactory

MARCH = dt.date(2025, 3, 1)


def part_texts() -> dict[str, str]:
    texts = {name: f"{name.replace('_', ' ')}: what the store will do." for name in PART_FIELDS}
    texts["executive_summary"] = "三月春季车展：客流 600，订单 90，活动费用控制在 12 万以内。"
    return texts


@pytest.fixture
def plan(store, manager):
    return services.plan_create(dealership=store, period=MARCH, by=manager, title="三月营销计划",
                                budget=Decimal("120000"), prefill_capability=False, **part_texts())


@pytest.fixture
def written_plan(plan, store, marketing):
    services.plan_goal_set(plan=plan, code="traffic", target=600, control_line=500,
                           measure="车展邀约 + 抖音直播引流")
    services.plan_goal_set(plan=plan, code="orders", target=90, control_line=80, measure="车展当日限时优惠")
    campaign = CampaignFactory(dealership=store, name="春季车展", budget=Decimal("80000"),
                               starts_on=dt.date(2025, 3, 8), ends_on=dt.date(2025, 3, 9))
    services.plan_campaign_link(plan=plan, campaign=campaign, expected_roi=0.2)
    services.plan_milestone_create(plan=plan, title="场地预订", due_on=dt.date(2025, 2, 20), owner=marketing)
    services.plan_milestone_create(plan=plan, title="车展执行", due_on=dt.date(2025, 3, 9), owner=marketing)
    return plan

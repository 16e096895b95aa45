"""Demo plans: last month's (approved, so its actual effect is judged) and this month's (a draft), per store.

Written through plans.services like any plan; targets are set from the store's own recent KPI values,
so the demo shows goals that are reachable and some that are missed.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from dealership.models import Dealership, Role, User
from kpis.models import KpiValue
from plans import services
from plans.models import MarketingPlan, add_months

# (code, stretch over the last value, control line as a share of the target, measures)
GOALS = [
    ("traffic", 1.08, 0.85, "车展邀约 + 线上直播引流，每周复盘邀约到店率"),
    ("orders", 1.05, 0.9, "意向客户 48 小时内回访，试驾后当日报价"),
    ("close_rate", 1.05, 0.85, "战败申请经理审批，重点跟进 H/A 级客户"),
    ("cost_per_visitor", 0.95, 1.15, "削减低效渠道，费用向转化高的活动倾斜"),
]


def _parts(store: Dealership, month: dt.date) -> dict[str, str]:
    return {
        "executive_summary": f"{month:%Y年%m月}{store.name}营销计划：以车展和线上直播拉动客流，提升成交率，费用控制在预算内。",
        "target_customers": "首购家庭用户、置换客户、老客户转介绍。",
        "marketing_goals": "客流、订单、成交率、客流成本四项指标，见目标表。",
        "financial_goals": "新车毛利(含返利)不低于上月，单车促销费用不高于上月。",
        "strategy": "线上线索快速响应，线下活动集中邀约，老客户转介绍奖励。",
        "marketing_mix": "产品：主销车型 + 新能源；价格：限时金融方案；渠道：车展、抖音、懂车帝；促销：试驾礼、转介绍奖励。",
        "cost_forecast": "按活动预算合计，见活动表；超出部分需经理批准。",
        "control_and_feedback": "每周例会对照控制线，越线即开预警并记录纠正措施。",
        "schedule": "月初启动邀约，月中活动执行，月末复盘。",
        "organisation": "市场专员负责活动与线索，销售经理负责邀约与成交，店总审批。",
        "review_and_correction": "月末对照实际效果评估，未达成目标写明原因与下月修正。",
    }


def _last_values(store: Dealership, before: dt.date) -> dict[str, float]:
    rows = (KpiValue.objects.filter(dealership=store, person__isnull=True, period__lt=before,
                                    code__in=[g[0] for g in GOALS], value__isnull=False)
            .order_by("code", "-period").values_list("code", "value"))
    found: dict[str, float] = {}
    for code, value in rows:
        found.setdefault(code, value)
    return found


@transaction.atomic
def _plan_for(store: Dealership, month: dt.date, *, approve: bool) -> MarketingPlan | None:
    if MarketingPlan.objects.filter(dealership=store, period=month, period_kind="month").exists():
        return None
    manager = User.objects.filter(dealership=store, role=Role.MANAGER, is_active=True).order_by("pk").first()
    marketing = User.objects.filter(dealership=store, role=Role.MARKETING, is_active=True).order_by("pk").first()
    campaigns = list(Campaign.objects.filter(dealership=store, starts_on__lt=add_months(month, 1),
                                             ends_on__gte=month).order_by("starts_on")[:4])
    budget = sum((c.budget for c in campaigns), Decimal("0")) * Decimal("1.1") or Decimal("100000")
    plan = services.plan_create(dealership=store, period=month, by=manager, title=f"{month:%Y-%m} 营销计划",
                                budget=budget.quantize(Decimal("1")), **_parts(store, month))
    last = _last_values(store, month)
    for code, stretch, line, measure in GOALS:
        if code not in last:
            continue
        target = last[code] * stretch
        target = round(target, 3) if code == "close_rate" else round(target)
        services.plan_goal_set(plan=plan, code=code, target=target, measure=measure,
                               control_line=round(target * line, 3) if code == "close_rate" else round(target * line))
    for campaign in campaigns:
        services.plan_campaign_link(plan=plan, campaign=campaign, expected_roi=0.2)
    owner = marketing or manager
    for day, title in ((1, "活动邀约启动"), (12, "活动执行"), (28, "月末复盘")):
        services.plan_milestone_create(plan=plan, title=title, due_on=month.replace(day=day), owner=owner)
    if approve and manager is not None:
        services.plan_approve(plan=plan, by=manager)
    return plan


def demo_plans_create(dealership_ids: list[int] | None = None) -> int:
    """Write the demo plans of the given stores (default: all); stores that have them are left alone."""
    stores = Dealership.objects.all() if dealership_ids is None else Dealership.objects.filter(pk__in=dealership_ids)
    written = 0
    for store in stores:
        this_month = timezone.now().astimezone(store.tzinfo).date().replace(day=1)
        for month, approve in ((add_months(this_month, -1), True), (this_month, False)):
            written += _plan_for(store, month, approve=approve) is not None
    return written

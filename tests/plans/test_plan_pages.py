"""A manager writes a plan on the pages, links campaigns, sees it evaluated and, after the period, plan
against actual; in Chinese and in English; another store's plan is a 404."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from kpis.models import KpiTarget
from plans.models import MarketingPlan, PlanStatus, add_months
from tests.factories import CampaignFactory, CampaignMetricFactory, KpiValueFactory
from tests.plans.conftest import part_texts


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    client.cookies["django_language"] = "en"
    return client


def test_a_manager_writes_a_plan_links_campaigns_and_sees_it_evaluated(as_manager, store, manager, marketing):
    # Next month's plan: its actual effect is still to come.
    month = add_months(timezone.localdate().replace(day=1), 1)
    response = as_manager.post(reverse("plans:create"), {
        "dealership": store.pk, "period": f"{month:%Y-%m}", "period_kind": "month", "title": "下月计划",
        "budget": "120000"})
    plan = MarketingPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("plans:edit", args=[plan.pk])

    as_manager.post(reverse("plans:edit", args=[plan.pk]), {"title": "三月计划", "budget": "120000", **part_texts()})
    as_manager.post(reverse("plans:goal_add", args=[plan.pk]),
                    {"code": "orders", "target": "90", "control_line": "80", "direction": "", "measure": "车展限时优惠"})
    as_manager.post(reverse("plans:goal_add", args=[plan.pk]),
                    {"code": "traffic", "target": "600", "control_line": "500", "direction": "", "measure": "邀约"})
    show = CampaignFactory(dealership=store, name="春季车展", budget=Decimal("80000"))
    as_manager.post(reverse("plans:campaign_link", args=[plan.pk]), {"campaign": show.pk, "expected_roi": "0.2"})
    as_manager.post(reverse("plans:campaign_new", args=[plan.pk]), {
        "name": "抖音直播", "channel": "social", "starts_on": f"{month}", "ends_on": f"{month:%Y-%m}-20",
        "budget": "20000", "planned_attendees": "0", "expected_roi": ""})
    as_manager.post(reverse("plans:milestone_add", args=[plan.pk]),
                    {"title": "车展执行", "due_on": f"{month:%Y-%m}-09", "owner": marketing.pk})

    page = as_manager.get(reverse("plans:detail", args=[plan.pk])).content.decode()
    for n in range(1, 8):
        assert f'point point-{n}" data-passed="yes"' in page
    assert 'point point-8" data-passed="pending"' in page
    assert "100000.00" in page  # the cost forecast: 80,000 + 20,000 against 120,000

    response = as_manager.post(reverse("plans:approve", args=[plan.pk]))
    assert response.status_code == 302
    assert KpiTarget.objects.get(dealership=store, code="orders").control_line == 80
    assert MarketingPlan.objects.get().status == PlanStatus.APPROVED


def test_after_the_period_the_manager_sees_plan_against_actual(as_manager, store, manager, written_plan):
    KpiValueFactory(dealership=store, period=dt.date(2025, 3, 1), code="traffic", value=640)
    KpiValueFactory(dealership=store, period=dt.date(2025, 3, 1), code="orders", value=70)
    CampaignMetricFactory(campaign=written_plan.plan_campaigns.get().campaign, code="roi", value=0.35)
    page = as_manager.get(reverse("plans:detail", args=[written_plan.pk])).content.decode()
    assert 'point point-8" data-passed="no"' in page  # today is long after March 2025
    assert '<td class="text-end plan-alert">70</td>' in page  # orders below the control line of 80
    assert '<td class="text-end plan-ok">640</td>' in page
    assert "35.0%" in page and "20.0%" in page  # ROI reached against the expectation


def test_bad_input_on_a_page_is_shown_on_its_field(as_manager, plan):
    response = as_manager.post(reverse("plans:goal_add", args=[plan.pk]),
                               {"code": "traffic", "target": "600", "control_line": "700", "direction": ""})
    assert response.status_code == 200
    assert "the control line must be at or below the target" in response.content.decode()
    assert not plan.goals.exists()


def test_a_duplicate_period_is_refused_on_the_period_field(as_manager, plan, store):
    response = as_manager.post(reverse("plans:create"), {
        "dealership": store.pk, "period": "2025-03", "period_kind": "month", "title": "", "budget": "0"})
    assert "already has a plan for this period" in response.content.decode()
    assert MarketingPlan.objects.count() == 1


@pytest.mark.parametrize("language,labels", [
    ("zh-hans", ["计划评估（8项标准）", "能力曲线", "营销策略", "费用预算（活动预算合计）", "完整性：计划各部分齐全"]),
    ("en", ["Evaluation (8 points)", "Capability curve", "Marketing strategy", "Cost forecast (campaign budgets)",
            "Complete: every part of the plan is written"]),
])
def test_the_plan_page_speaks_the_users_language(client, manager, written_plan, language, labels):
    client.force_login(manager)
    client.cookies["django_language"] = language
    page = client.get(reverse("plans:detail", args=[written_plan.pk])).content.decode()
    for label in labels:
        assert label in page


def test_another_stores_plan_is_a_404_on_every_page(client, other_manager, written_plan):
    client.force_login(other_manager)
    goal = written_plan.goals.first()
    for url in [reverse("plans:detail", args=[written_plan.pk]), reverse("plans:edit", args=[written_plan.pk]),
                reverse("plans:print", args=[written_plan.pk]), reverse("plans:export", args=[written_plan.pk]),
                reverse("plans:goal_add", args=[written_plan.pk])]:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("plans:approve", args=[written_plan.pk])).status_code == 404
    assert client.post(reverse("plans:goal_delete", args=[written_plan.pk, goal.pk])).status_code == 404
    assert written_plan.goals.filter(pk=goal.pk).exists()


def test_a_consultant_does_not_see_plans(client, consultant, plan):
    client.force_login(consultant)
    assert client.get(reverse("plans:list")).status_code == 403
    assert client.get(reverse("plans:detail", args=[plan.pk])).status_code == 403


def test_the_group_manager_sees_the_plans_of_the_groups_stores(client, group_manager, plan):
    client.force_login(group_manager)
    assert client.get(reverse("plans:detail", args=[plan.pk])).status_code == 200


def test_marketing_cannot_approve_a_plan(client, marketing, plan):
    client.force_login(marketing)
    client.post(reverse("plans:approve", args=[plan.pk]))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_the_list_shows_how_many_of_the_first_seven_points_each_plan_passes(as_manager, written_plan, plan):
    page = as_manager.get(reverse("plans:list")).content.decode()
    assert "7/7" in page


def test_the_list_costs_the_same_queries_for_many_plans(as_manager, store, django_assert_max_num_queries):
    from plans import services

    for month in range(1, 13):
        services.plan_create(dealership=store, period=dt.date(2024, month, 1), prefill_capability=False)
    # session, user, alerts badge, count, page, then goals, campaigns, milestones: 12 at most, however many plans
    with django_assert_max_num_queries(12) as captured:
        page = as_manager.get(reverse("plans:list"))
    assert page.status_code == 200 and page.content.decode().count("/plans/") >= 12
    few = len(captured)
    services.plan_create(dealership=store, period=dt.date(2025, 1, 1), prefill_capability=False)
    with django_assert_max_num_queries(few):
        as_manager.get(reverse("plans:list"))


def test_the_plan_page_costs_a_fixed_number_of_queries(as_manager, written_plan, store, marketing,
                                                       django_assert_max_num_queries):
    from plans import services

    def page_queries():
        with django_assert_max_num_queries(30) as captured:
            assert as_manager.get(reverse("plans:detail", args=[written_plan.pk])).status_code == 200
        return len(captured)

    before = page_queries()
    for i in range(5):
        services.plan_campaign_link(plan=written_plan, campaign=CampaignFactory(dealership=store, budget=1))
        services.plan_milestone_create(plan=written_plan, title=f"m{i}", due_on=dt.date(2025, 3, 2), owner=marketing)
        services.plan_goal_set(plan=written_plan, code=["test_drives", "deliveries", "close_rate", "referral_deals",
                                                        "online_leads"][i], target=1, control_line=0, measure="x")
    assert page_queries() == before


def test_the_print_view_carries_print_css_and_the_evaluation(as_manager, written_plan):
    page = as_manager.get(reverse("plans:print", args=[written_plan.pk])).content.decode()
    assert "@media print" in page and "@page" in page
    assert "Evaluation (8 points)" in page
    assert "plans/%d/goals/add" % written_plan.pk not in page  # no editing controls on paper


def test_the_excel_export_has_the_plan_goals_campaigns_milestones_and_evaluation(as_manager, written_plan):
    response = as_manager.get(reverse("plans:export", args=[written_plan.pk]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Plan", "Goals", "Campaigns", "Milestones", "Evaluation"]
    goals = [row for row in book["Goals"].iter_rows(min_row=2, values_only=True)]
    assert [(g[1], g[2]) for g in goals] == [(600, 500), (90, 80)]
    assert book["Campaigns"]["A2"].value == "春季车展" and book["Campaigns"]["E2"].value == 80000
    assert [r[0] for r in book["Evaluation"].iter_rows(min_row=2, values_only=True)] == list(range(1, 9))
    from dealership.models import AuditEntry
    assert AuditEntry.objects.filter(action="export", model="plans.MarketingPlan", object_id=str(written_plan.pk),
                                     actor_id=written_plan.created_by_id).exists()


def test_a_goal_opens_filled_in_to_be_changed(as_manager, written_plan):
    page = as_manager.get(reverse("plans:goal_add", args=[written_plan.pk]) + "?code=orders").content.decode()
    assert 'value="90.0"' in page and 'value="80.0"' in page and "车展当日限时优惠" in page
    as_manager.post(reverse("plans:goal_add", args=[written_plan.pk]) + "?code=orders",
                    {"code": "orders", "target": "95", "control_line": "85", "direction": "", "measure": "加推"})
    assert written_plan.goals.get(code="orders").target == 95 and written_plan.goals.count() == 2

"""/api/v1/marketing-plans/ and its goals, campaigns and milestones, per spec/api.md's conventions."""
from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from kpis.models import KpiTarget
from plans.models import MarketingPlan, PlanGoal
from tests.factories import CampaignFactory, KpiValueFactory

PLANS = "/api/v1/marketing-plans/"


@pytest.fixture
def api(manager):
    client = APIClient()
    client.force_authenticate(manager)
    return client


def test_a_plan_is_created_with_its_period_as_yyyy_mm(api, store):
    response = api.post(PLANS, {"dealership": store.pk, "period": "2025-04", "period_kind": "quarter",
                                "title": "二季度", "budget": "300000", "strategy": "老客户转介绍"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["period"] == "2025-04" and body["budget"] == "300000.00" and body["status"] == "draft"
    assert body["dealership"] == store.pk and body["goals"] == [] and body["cost_forecast_total"] == "0.00"


def test_bad_input_gets_400_per_field_and_writes_nothing(api, store):
    response = api.post(PLANS, {"dealership": store.pk, "period": "2025-13", "budget": "-5"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"period", "budget"}
    response = api.post(PLANS, {"dealership": store.pk, "period": "2025-05", "period_kind": "quarter"}, format="json")
    assert response.status_code == 400 and "period" in response.json()
    assert not MarketingPlan.objects.exists()


def test_an_external_id_posted_again_updates_the_plan(api, store):
    first = api.post(PLANS, {"dealership": store.pk, "period": "2025-03", "external_id": "OEM-1", "title": "一"},
                     format="json")
    again = api.post(PLANS, {"dealership": store.pk, "period": "2025-03", "external_id": "OEM-1", "title": "二"},
                     format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and MarketingPlan.objects.get().title == "二"


def test_goals_campaigns_and_milestones_are_added_and_the_plan_approved(api, plan, store, marketing):
    goal = api.post("/api/v1/marketing-plan-goals/", {"plan": plan.pk, "code": "cost_per_visitor", "target": 200,
                                                      "control_line": 260, "measure": "精准投放"}, format="json")
    assert goal.status_code == 201 and goal.json()["direction"] == "lower"
    campaign = CampaignFactory(dealership=store, budget=50000)
    link = api.post("/api/v1/marketing-plan-campaigns/", {"plan": plan.pk, "campaign": campaign.pk,
                                                          "expected_roi": 0.3}, format="json")
    assert link.status_code == 201 and link.json()["budget"] == "50000.00"
    milestone = api.post("/api/v1/marketing-plan-milestones/", {"plan": plan.pk, "title": "投放上线",
                                                                "due_on": "2025-03-05", "owner": marketing.pk},
                         format="json")
    assert milestone.status_code == 201
    body = api.get(f"{PLANS}{plan.pk}/").json()
    assert [g["code"] for g in body["goals"]] == ["cost_per_visitor"]
    assert body["cost_forecast_total"] == "50000.00" and body["milestones"][0]["owner"] == marketing.pk

    approved = api.post(f"{PLANS}{plan.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    target = KpiTarget.objects.get(dealership=store, code="cost_per_visitor")
    assert (target.target, target.control_line, target.direction) == (200, 260, "lower")


def test_the_evaluation_lists_eight_points_and_plan_against_actual(api, written_plan, store):
    KpiValueFactory(dealership=store, period=dt.date(2025, 3, 1), code="traffic", value=640)
    body = api.get(f"{PLANS}{written_plan.pk}/evaluation/").json()
    assert [p["number"] for p in body["points"]] == list(range(1, 9))
    assert all(p["passed"] for p in body["points"][:7])
    traffic = next(g for g in body["goals"] if g["code"] == "traffic")
    assert traffic["months"] == [{"period": "2025-03", "value": 640, "status": "ok"}]
    assert body["cost_forecast"] == {"budget": "120000.00", "total": "80000.00", "difference": "-40000.00",
                                     "over_budget": False}


def test_a_goal_with_a_control_line_on_the_wrong_side_is_a_400_on_that_field(api, plan):
    response = api.post("/api/v1/marketing-plan-goals/", {"plan": plan.pk, "code": "traffic", "target": 600,
                                                          "control_line": 700}, format="json")
    assert response.status_code == 400 and "control_line" in response.json()
    assert not PlanGoal.objects.exists()


def test_another_stores_plan_is_a_404_and_cannot_be_referenced(plan, other_manager, other_store):
    client = APIClient()
    client.force_authenticate(other_manager)
    assert client.get(f"{PLANS}{plan.pk}/").status_code == 404
    assert client.post(f"{PLANS}{plan.pk}/approve/").status_code == 404
    assert client.get(PLANS).json()["count"] == 0
    response = client.post("/api/v1/marketing-plan-goals/", {"plan": plan.pk, "code": "traffic", "target": 1,
                                                             "control_line": 0}, format="json")
    assert response.status_code == 400 and "plan" in response.json()


def test_a_foreign_campaign_cannot_be_linked(api, plan, other_store):
    foreign = CampaignFactory(dealership=other_store)
    response = api.post("/api/v1/marketing-plan-campaigns/", {"plan": plan.pk, "campaign": foreign.pk},
                        format="json")
    assert response.status_code == 400 and "campaign" in response.json()


def test_marketing_may_not_approve_and_consultants_may_not_read(plan, marketing, consultant):
    client = APIClient()
    client.force_authenticate(marketing)
    response = client.post(f"{PLANS}{plan.pk}/approve/")
    assert response.status_code == 400 and "status" in response.json()
    client.force_authenticate(consultant)
    assert client.get(PLANS).status_code == 403


def test_anonymous_requests_get_401():
    assert APIClient().get(PLANS).status_code == 401


def test_only_a_draft_is_deleted(api, plan, manager):
    from plans import services

    services.plan_approve(plan=plan, by=manager)
    assert api.delete(f"{PLANS}{plan.pk}/").status_code == 400
    assert MarketingPlan.objects.exists()


def test_the_plan_list_costs_a_fixed_number_of_queries(api, store, django_assert_max_num_queries):
    from plans import services

    def count():
        with django_assert_max_num_queries(20) as captured:
            assert api.get(PLANS).status_code == 200
        return len(captured)

    plan = services.plan_create(dealership=store, period=dt.date(2025, 1, 1), prefill_capability=False)
    services.plan_goal_set(plan=plan, code="traffic", target=1, control_line=0)
    few = count()
    for month in range(2, 8):
        other = services.plan_create(dealership=store, period=dt.date(2025, month, 1), prefill_capability=False)
        services.plan_goal_set(plan=other, code="traffic", target=1, control_line=0)
        services.plan_campaign_link(plan=other, campaign=CampaignFactory(dealership=store))
    assert count() == few


def test_a_plan_posted_with_copy_from_starts_with_its_goals(api, written_plan, store):
    response = api.post(PLANS, {"dealership": store.pk, "period": "2025-04", "copy_from": written_plan.pk},
                        format="json")
    assert response.status_code == 201, response.json()
    assert sorted(g["code"] for g in response.json()["goals"]) == ["orders", "traffic"]
    assert response.json()["budget"] == "120000.00"

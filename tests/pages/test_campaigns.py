"""Marketing pages: campaigns through their forms, cost entries, traffic plans, the break-even numbers."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignCost, TrafficPlan
from tests.factories import CampaignFactory, CampaignMetricFactory

FORM = {"name": "五一车展", "channel": "event", "starts_on": "2025-05-01", "ends_on": "2025-05-05", "cycle_days": "30",
        "budget": "60000", "fixed_cost": "40000", "variable_cost_per_attendee": "200", "contribution_per_deal": "1000",
        "reach": "12000", "inquiries": "600", "invited": "300", "planned_attendees": "120"}


def test_marketing_creates_a_campaign_and_lands_on_its_page(as_user, store, marketing):
    response = as_user(marketing).post(reverse("campaigns:new"), FORM)
    campaign = Campaign.objects.get()
    assert response.url == reverse("kpis:campaign", args=[campaign.pk])
    assert campaign.dealership == store and campaign.planned_attendees == 120


@pytest.mark.parametrize("field,value", [("ends_on", "2025-04-01"), ("fixed_cost", "-1"),
                                         ("contribution_per_deal", "0"), ("channel", "tv")])
def test_a_bad_campaign_is_refused_next_to_its_field_and_nothing_is_saved(as_user, marketing, field, value):
    response = as_user(marketing).post(reverse("campaigns:new"), {**FORM, field: value})
    assert field in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_editing_a_campaign_of_another_store_is_a_404(as_user, other_store, marketing):
    theirs = CampaignFactory(dealership=other_store)
    assert as_user(marketing).get(reverse("campaigns:edit", args=[theirs.pk])).status_code == 404
    assert as_user(marketing).get(reverse("kpis:campaign", args=[theirs.pk])).status_code == 404


def test_a_consultant_may_not_open_the_marketing_pages(as_user, consultant):
    assert as_user(consultant).get(reverse("campaigns:list")).status_code == 403


def test_a_cost_entry_is_added_and_a_negative_one_refused(as_user, store, marketing):
    campaign = CampaignFactory(dealership=store)
    client = as_user(marketing)
    response = client.post(reverse("campaigns:cost_add", args=[campaign.pk]),
                           {"incurred_on": "2025-03-02", "amount": "-5", "category": "media"})
    assert "amount" in response.context["form"].errors
    client.post(reverse("campaigns:cost_add", args=[campaign.pk]),
                {"incurred_on": "2025-03-02", "amount": "8000", "category": "media"})
    assert list(CampaignCost.objects.values_list("amount", flat=True)) == [8000]


def test_a_traffic_plan_is_set_per_month_and_setting_it_again_replaces_it(as_user, store, marketing):
    client = as_user(marketing)
    client.post(reverse("campaigns:traffic_plans"), {"period": "2025-06", "planned_traffic": "520"})
    client.post(reverse("campaigns:traffic_plans"), {"period": "2025-06", "planned_traffic": "560"})
    assert list(TrafficPlan.objects.values_list("period", "planned_traffic")) == [(dt.date(2025, 6, 1), 560)]
    response = client.post(reverse("campaigns:traffic_plans"), {"period": "June", "planned_traffic": "-3"})
    assert set(response.context["form"].errors) == {"period", "planned_traffic"}


@pytest.fixture
def english(marketing):
    marketing.language = "en"
    marketing.save()
    return marketing


def test_the_break_even_of_the_seed_needs_64_deals_at_120_attendees(as_user, store, english):
    marketing = english
    campaign = CampaignFactory(dealership=store, fixed_cost=40000, variable_cost_per_attendee=200,
                               contribution_per_deal=1000, planned_attendees=120)
    chart = as_user(marketing).get(reverse("kpis:campaign", args=[campaign.pk])).context["chart"]
    numbers = dict(chart.rows)
    assert numbers["Deals needed to break even"] == "64"
    assert numbers["Success rate needed"] == "53.3%"
    assert [trace["name"] for trace in chart.figure["data"]][0] == "Cost"


def test_with_deals_known_the_chart_marks_where_cost_and_contribution_cross(as_user, store, english):
    marketing = english
    campaign = CampaignFactory(dealership=store, fixed_cost=40000, variable_cost_per_attendee=200,
                               contribution_per_deal=1000, planned_attendees=120)
    CampaignMetricFactory(campaign=campaign, code="attendees", value=100)
    CampaignMetricFactory(campaign=campaign, code="deals", value=60)
    chart = as_user(marketing).get(reverse("kpis:campaign", args=[campaign.pk])).context["chart"]
    # contribution 0.6 × 1000 = 600 per attendee against 200 of variable cost: 40000 / 400 = 100 attendees
    assert dict(chart.rows)["Break-even attendance"] == "100"


def test_the_campaign_list_takes_fixed_queries(as_user, store, marketing, django_assert_num_queries):
    client = as_user(marketing)
    for count in (2, 15):
        CampaignFactory.create_batch(count - Campaign.objects.count(), dealership=store)
        # session, user, store, count, page; the idle timeout's session save (3)
        with django_assert_num_queries(8):
            client.get(reverse("campaigns:list"))

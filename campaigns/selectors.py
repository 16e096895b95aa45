"""Reads about campaigns, their costs and traffic plans, scoped to the user's stores."""
from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from campaigns.models import Campaign, CampaignCost, TrafficPlan
from dealership.models import User
from dealership.selectors import scope_to_stores


def campaigns_for_user(user: User) -> QuerySet[Campaign]:
    return scope_to_stores(Campaign.objects.all(), user)


def campaign_get_for_user(user: User, pk: int) -> Campaign:
    return get_object_or_404(campaigns_for_user(user).select_related("dealership"), pk=pk)


def campaign_costs_for_user(user: User) -> QuerySet[CampaignCost]:
    return scope_to_stores(CampaignCost.objects.all(), user, field="campaign__dealership")


def traffic_plans_for_user(user: User) -> QuerySet[TrafficPlan]:
    return scope_to_stores(TrafficPlan.objects.all(), user)

"""/api/v1/campaigns/, /campaign-costs/, /traffic-plans/ (spec/api.md), written by campaigns.services.

A campaign's computed metrics (/campaigns/{id}/metrics/) are served by kpis.api: the KPI tables sit
above this app.
"""
from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from rest_framework import mixins, serializers, viewsets

from campaigns.models import Campaign, CampaignCost, Channel, TrafficPlan
from campaigns.selectors import campaign_costs_for_user, campaigns_for_user, traffic_plans_for_user
from campaigns.services import campaign_cost_create, campaign_create, campaign_update, traffic_plan_set
from dealership.api import (EXTERNAL_ID, MANAGERS, BoundedDateField, IdFilter, PeriodField, PeriodFilter,
                            ScopedRelatedField, ScopedViewSetMixin, StoreSerializer, UpsertCreateMixin,
                            UpsertSerializer, date_range_filters, filterset, money_field, own_store_default)
from dealership.models import Role
from dealership.selectors import dealerships_for_user

MARKETING = MANAGERS | {Role.MARKETING}
COUNT = {"min_value": 0, "max_value": 2_000_000_000}


class CampaignSerializer(UpsertSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, default=own_store_default)
    channel = serializers.ChoiceField(choices=Channel.choices)
    starts_on = BoundedDateField()
    ends_on = BoundedDateField()
    cycle_days = serializers.IntegerField(min_value=0, max_value=3650, default=30,
                                          help_text="Orders up to this many days after the end count as deals.")
    budget = money_field(required=False)
    fixed_cost = money_field(required=False)
    variable_cost_per_attendee = money_field(required=False)
    contribution_per_deal = money_field(required=False, allow_null=True, min_value=Decimal("0.01"),
                                        help_text="Null: the store's average gross profit + rebate per delivery.")

    class Meta:
        model = Campaign
        fields = ["id", "external_id", "dealership", "name", "channel", "starts_on", "ends_on", "cycle_days",
                  "budget", "fixed_cost", "variable_cost_per_attendee", "contribution_per_deal", "reach",
                  "inquiries", "invited", "planned_attendees", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID, "reach": COUNT, "inquiries": COUNT, "invited": COUNT,
                        "planned_attendees": COUNT}

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and attrs.get("dealership") is None:
            raise serializers.ValidationError({"dealership": [_("Say which store this record belongs to.")]})
        if self.instance is not None and "dealership" in attrs:
            if attrs.pop("dealership") != self.instance.dealership:
                raise serializers.ValidationError({"dealership": [_("A campaign cannot move to another store.")]})
        starts = attrs.get("starts_on", getattr(self.instance, "starts_on", None))
        ends = attrs.get("ends_on", getattr(self.instance, "ends_on", None))
        if starts and ends and ends < starts:
            raise serializers.ValidationError({"ends_on": [_("A campaign cannot end before it starts.")]})
        return super().validate(attrs)

    def create(self, validated_data: dict) -> Campaign:
        self.claim_external_id(Campaign, dealership=validated_data["dealership"],
                               external_id=validated_data.get("external_id"),
                               scope=campaigns_for_user(self.context["request"].user))
        return campaign_create(**validated_data)

    def update(self, instance: Campaign, validated_data: dict) -> Campaign:
        validated_data.pop("external_id", None)
        return campaign_update(campaign=instance, **validated_data)


class CampaignCostSerializer(StoreSerializer, serializers.ModelSerializer):
    campaign = ScopedRelatedField(campaigns_for_user)
    incurred_on = BoundedDateField()
    amount = money_field()
    dealership = serializers.IntegerField(source="campaign.dealership_id", read_only=True)

    class Meta:
        model = CampaignCost
        fields = ["id", "external_id", "campaign", "dealership", "incurred_on", "amount", "category"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID}

    def create(self, validated_data: dict) -> CampaignCost:
        return campaign_cost_create(**validated_data)


class TrafficPlanSerializer(StoreSerializer, serializers.ModelSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, default=own_store_default)
    period = PeriodField()
    planned_traffic = serializers.IntegerField(min_value=0, max_value=2_000_000_000)

    class Meta:
        model = TrafficPlan
        fields = ["id", "dealership", "period", "planned_traffic"]
        validators: list = []

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and attrs.get("dealership") is None:
            raise serializers.ValidationError({"dealership": [_("Say which store this record belongs to.")]})
        return super().validate(attrs)

    def create(self, validated_data: dict) -> TrafficPlan:
        # One plan per store and month: posting a month again replaces its figure (traffic_plan_set).
        return traffic_plan_set(**validated_data)

    def update(self, instance: TrafficPlan, validated_data: dict) -> TrafficPlan:
        if validated_data.get("dealership", instance.dealership) != instance.dealership or \
                validated_data.get("period", instance.period) != instance.period:
            raise serializers.ValidationError({"period": [_("Post a new plan for another month or store.")]})
        return traffic_plan_set(dealership=instance.dealership, period=instance.period,
                                planned_traffic=validated_data.get("planned_traffic", instance.planned_traffic))


class CampaignViewSet(ScopedViewSetMixin, UpsertCreateMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Campaigns of the user's stores; marketing and managers write."""

    scope = staticmethod(campaigns_for_user)
    serializer_class = CampaignSerializer
    write_roles = MARKETING
    filterset_class = filterset(Campaign, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "channel": filters.ChoiceFilter(choices=Channel.choices),
        "external_id": filters.CharFilter(),
        **date_range_filters("starts_on", dates_only=True),
    })


class CampaignCostViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Cost entries of campaigns; posting one with a known external_id updates it."""

    scope = staticmethod(campaign_costs_for_user)
    serializer_class = CampaignCostSerializer
    write_roles = MARKETING
    related = ("campaign",)
    filterset_class = filterset(CampaignCost, fields={
        "dealership": IdFilter(field_name="campaign__dealership_id"),
        "campaign": IdFilter(field_name="campaign_id"),
        "category": filters.CharFilter(),
        **date_range_filters("incurred_on", dates_only=True),
    })


class TrafficPlanViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                         viewsets.ReadOnlyModelViewSet):
    """The monthly planned traffic (计划客流); posting a month again replaces its figure."""

    scope = staticmethod(traffic_plans_for_user)
    serializer_class = TrafficPlanSerializer
    write_roles = MARKETING
    filterset_class = filterset(TrafficPlan, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "period": PeriodFilter(field_name="period", label="period (YYYY-MM)"),
    })


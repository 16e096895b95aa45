"""Marketing writes: campaigns, their cost entries, and the monthly traffic plan."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignCost, TrafficPlan
from dealership.models import Dealership
from dealership.services import existing_for_external_id, kpi_months_mark_stale

CAMPAIGN_FIELDS = (
    "name", "channel", "starts_on", "ends_on", "cycle_days", "budget", "fixed_cost",
    "variable_cost_per_attendee", "contribution_per_deal", "reach", "inquiries", "invited", "planned_attendees",
)


def _campaign_months(campaign: Campaign) -> list[dt.date]:
    # Its deals count until ends_on + cycle, and channel ROI by the month it ends.
    return [campaign.starts_on, campaign.ends_on, campaign.ends_on + dt.timedelta(days=campaign.cycle_days)]


@transaction.atomic
def campaign_create(*, dealership: Dealership, external_id: str | None = None, **fields) -> Campaign:
    """Create a campaign, or update the one an `external_id` already names."""
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    campaign = existing_for_external_id(Campaign, dealership=dealership, external_id=external_id)
    if campaign is not None:
        return campaign_update(campaign=campaign, **fields)
    campaign = Campaign(dealership=dealership, external_id=external_id or None, **fields)
    _validate(campaign)
    campaign.save()
    kpi_months_mark_stale(dealership=dealership, instants=_campaign_months(campaign))
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, **fields) -> Campaign:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    before = _campaign_months(campaign)
    for key, value in fields.items():
        if key not in CAMPAIGN_FIELDS:
            raise TypeError(f"unknown campaign field: {key}")
        setattr(campaign, key, value)
    _validate(campaign)
    campaign.save()
    kpi_months_mark_stale(dealership=campaign.dealership, instants=before + _campaign_months(campaign))
    return campaign


def _validate(campaign: Campaign) -> None:
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        raise ValidationError({"ends_on": _("A campaign cannot end before it starts.")})
    campaign.full_clean(exclude=["dealership"], validate_unique=False)


@transaction.atomic
def campaign_cost_create(
    *, campaign: Campaign, incurred_on: dt.date, amount: Decimal, category: str = "", external_id: str | None = None
) -> CampaignCost:
    if amount is None or Decimal(amount) < 0:
        raise ValidationError({"amount": _("A cost cannot be negative.")})
    cost = None
    if external_id:
        cost = CampaignCost.objects.select_for_update().filter(campaign=campaign, external_id=external_id).first()
    touched = [cost.incurred_on] if cost else []
    cost = cost or CampaignCost(campaign=campaign, external_id=external_id or None)
    cost.incurred_on, cost.amount, cost.category = incurred_on, amount, category
    cost.full_clean(exclude=["campaign"], validate_unique=False)
    cost.save()
    kpi_months_mark_stale(dealership=campaign.dealership, instants=[incurred_on, *touched, *_campaign_months(campaign)])
    return cost


@transaction.atomic
def traffic_plan_set(*, dealership: Dealership, period: dt.date, planned_traffic: int) -> TrafficPlan:
    """Set (create or replace) the planned traffic of a month."""
    if period.day != 1:
        raise ValidationError({"period": _("A plan is for a month: give its first day.")})
    if planned_traffic is None or planned_traffic < 0:
        raise ValidationError({"planned_traffic": _("Planned traffic cannot be negative.")})
    plan, _created = TrafficPlan.objects.update_or_create(
        dealership=dealership, period=period, defaults={"planned_traffic": planned_traffic}
    )
    kpi_months_mark_stale(dealership=dealership, instants=[period])
    return plan

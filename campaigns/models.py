"""Marketing campaigns, what they cost, and the store's monthly traffic plan."""
from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from dealership.models import Dealership

ZERO = Decimal("0")


class Channel(models.TextChoices):
    ONLINE_ADS = "online_ads", _("Online ads")
    OFFLINE_ADS = "offline_ads", _("Offline ads")
    EVENT = "event", _("Event")
    PROMOTION = "promotion", _("Promotion")
    SOCIAL = "social", _("Social media")
    KOL = "kol", _("KOL")
    REFERRAL = "referral", _("Referral")
    OTHER = "other", _("Other")


def money(verbose_name, **kwargs) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=2, **kwargs)


class Campaign(models.Model):
    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="campaigns",
                                   verbose_name=_("dealership"))
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    cycle_days = models.PositiveIntegerField(
        _("deal cycle (days)"), default=30,
        help_text=_("Orders of its leads up to this many days after the end count as its deals."),
    )
    budget = money(_("budget"), default=ZERO)
    fixed_cost = money(_("fixed cost"), default=ZERO)
    variable_cost_per_attendee = money(_("variable cost per attendee"), default=ZERO)
    contribution_per_deal = money(_("contribution per deal"), null=True, blank=True,
                                  help_text=_("Empty: the store's average gross profit + rebate per delivery."))
    reach = models.PositiveIntegerField(_("reach"), default=0)
    inquiries = models.PositiveIntegerField(_("enquiries"), default=0)
    invited = models.PositiveIntegerField(_("invitations"), default=0)
    planned_attendees = models.PositiveIntegerField(_("planned attendance"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="campaign_ends_after_start"),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="campaign_channel_valid"),
            models.CheckConstraint(
                condition=Q(budget__gte=0) & Q(fixed_cost__gte=0) & Q(variable_cost_per_attendee__gte=0)
                & (Q(contribution_per_deal__isnull=True) | Q(contribution_per_deal__gt=0)),
                name="campaign_money_not_negative",
            ),
            models.UniqueConstraint(fields=["dealership", "external_id"], name="campaign_external_id_unique"),
        ]
        indexes = [models.Index(fields=["dealership", "ends_on"])]

    def __str__(self) -> str:
        return self.name


class CampaignCost(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="costs",
                                 verbose_name=_("campaign"))
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    incurred_on = models.DateField(_("incurred on"))
    amount = money(_("amount"))
    category = models.CharField(_("category"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("campaign cost")
        verbose_name_plural = _("campaign costs")
        ordering = ["incurred_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="campaign_cost_not_negative"),
            models.UniqueConstraint(fields=["campaign", "external_id"], name="campaign_cost_external_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} {self.incurred_on} {self.amount}"


class TrafficPlan(models.Model):
    """Planned showroom + off-site + phone traffic of one month (计划客流)."""

    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="traffic_plans",
                                   verbose_name=_("dealership"))
    period = models.DateField(_("period"), help_text=_("First day of the month."))
    planned_traffic = models.PositiveIntegerField(_("planned traffic"))

    class Meta:
        verbose_name = _("traffic plan")
        verbose_name_plural = _("traffic plans")
        ordering = ["-period"]
        constraints = [
            # The first-of-month rule is checked in services (a day extract is not portable to SQLite).
            models.UniqueConstraint(fields=["dealership", "period"], name="traffic_plan_one_per_month"),
        ]

    def __str__(self) -> str:
        return f"{self.dealership.code} {self.period:%Y-%m}: {self.planned_traffic}"

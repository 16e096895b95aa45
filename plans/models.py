"""Marketing plans (营销计划): the twelve parts of the seed's workflow, goals, campaigns, milestones.

A plan sits above the KPI tables: its goals become the store's KPI targets when it is approved, and
its evaluation reads the computed KPI values and campaign metrics; nothing below imports this app.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import ZERO, Campaign, money
from dealership.models import Dealership


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    CLOSED = "closed", _("Closed")


class GoalDirection(models.TextChoices):
    # The same words as kpis.models.Direction; repeated so that the form's choices translate from this app.
    HIGHER = "higher", _("Higher is better")
    LOWER = "lower", _("Lower is better")


# The twelve parts of 营销计划作业流程, in the seed's order: (field, label; Chinese in plans/locale).
PLAN_PARTS: list[tuple[str, str]] = [
    ("executive_summary", _("Executive summary")),
    ("capability_analysis", _("Capability analysis")),
    ("target_customers", _("Target customers")),
    ("marketing_goals", _("Marketing goals")),
    ("financial_goals", _("Financial goals")),
    ("strategy", _("Marketing strategy")),
    ("marketing_mix", _("Marketing mix")),
    ("cost_forecast", _("Cost forecast")),
    ("control_and_feedback", _("Control and feedback")),
    ("schedule", _("Schedule")),
    ("organisation", _("Organisation")),
    ("review_and_correction", _("Review and correction")),
]
PART_FIELDS = [name for name, _label in PLAN_PARTS]


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


class MarketingPlan(models.Model):
    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="marketing_plans",
                                   verbose_name=_("dealership"))
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    period = models.DateField(_("period"), help_text=_("First day of the month or quarter."))
    period_kind = models.CharField(_("period kind"), max_length=8, choices=PeriodKind.choices,
                                   default=PeriodKind.MONTH)
    title = models.CharField(_("title"), max_length=160, blank=True)
    budget = money(_("budget"), default=ZERO)
    status = models.CharField(_("status"), max_length=8, choices=PlanStatus.choices, default=PlanStatus.DRAFT)

    executive_summary = models.TextField(_("Executive summary"), blank=True)
    capability_analysis = models.TextField(_("Capability analysis"), blank=True)
    target_customers = models.TextField(_("Target customers"), blank=True)
    marketing_goals = models.TextField(_("Marketing goals"), blank=True)
    financial_goals = models.TextField(_("Financial goals"), blank=True)
    strategy = models.TextField(_("Marketing strategy"), blank=True)
    marketing_mix = models.TextField(_("Marketing mix"), blank=True)
    cost_forecast = models.TextField(_("Cost forecast"), blank=True)
    control_and_feedback = models.TextField(_("Control and feedback"), blank=True)
    schedule = models.TextField(_("Schedule"), blank=True)
    organisation = models.TextField(_("Organisation"), blank=True)
    review_and_correction = models.TextField(_("Review and correction"), blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("approved by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("marketing plan")
        verbose_name_plural = _("marketing plans")
        ordering = ["-period", "dealership_id"]
        constraints = [
            models.UniqueConstraint(fields=["dealership", "period", "period_kind"], name="plan_one_per_period"),
            models.UniqueConstraint(fields=["dealership", "external_id"], name="plan_external_id_unique"),
            models.CheckConstraint(condition=Q(budget__gte=0), name="plan_budget_not_negative"),
            models.CheckConstraint(condition=Q(period_kind__in=PeriodKind.values), name="plan_period_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=PlanStatus.values), name="plan_status_valid"),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.dealership_id} {self.period_label}"

    @property
    def months(self) -> list[dt.date]:
        """The first days of the months the plan covers (one, or three for a quarter)."""
        count = 3 if self.period_kind == PeriodKind.QUARTER else 1
        return [add_months(self.period, i) for i in range(count)]

    @property
    def period_end(self) -> dt.date:
        """The first day after the period."""
        return add_months(self.period, len(self.months))

    @property
    def last_day(self) -> dt.date:
        return self.period_end - dt.timedelta(days=1)

    @property
    def period_label(self) -> str:
        if self.period_kind == PeriodKind.QUARTER:
            return f"{self.period.year}-Q{(self.period.month - 1) // 3 + 1}"
        return f"{self.period:%Y-%m}"


class PlanGoal(models.Model):
    """A goal of the plan is a KPI target: approving the plan makes it the store's target and control line."""

    plan = models.ForeignKey(MarketingPlan, on_delete=models.CASCADE, related_name="goals", verbose_name=_("plan"))
    code = models.CharField(_("KPI"), max_length=40)
    target = models.FloatField(_("target"))
    control_line = models.FloatField(_("control line"))
    direction = models.CharField(_("direction"), max_length=6, choices=GoalDirection.choices)
    measure = models.TextField(_("measures"), blank=True,
                               help_text=_("What the store will do to reach it, and how it is checked."))

    class Meta:
        verbose_name = _("plan goal")
        verbose_name_plural = _("plan goals")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="plan_goal_one_per_code"),
            models.CheckConstraint(condition=Q(direction__in=GoalDirection.values), name="plan_goal_direction"),
            # As on kpis.KpiTarget: the control line lies beyond the target, on the bad side.
            models.CheckConstraint(
                condition=(Q(direction="higher") & Q(control_line__lte=F("target")))
                | (Q(direction="lower") & Q(control_line__gte=F("target"))),
                name="plan_goal_control_line_beyond_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {'≥' if self.direction == 'higher' else '≤'} {self.target}"


class PlanCampaign(models.Model):
    """A campaign the plan relies on; its budget is the campaign's own, its expected ROI the plan's bet."""

    plan = models.ForeignKey(MarketingPlan, on_delete=models.CASCADE, related_name="plan_campaigns",
                             verbose_name=_("plan"))
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="plan_links",
                                 verbose_name=_("campaign"))
    expected_roi = models.FloatField(_("expected ROI"), null=True, blank=True,
                                     help_text=_("As a fraction (0.5 = 50%). Empty: at least break even."))

    class Meta:
        verbose_name = _("plan campaign")
        verbose_name_plural = _("plan campaigns")
        ordering = ["campaign__starts_on", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "campaign"], name="plan_campaign_once")]


class PlanMilestone(models.Model):
    plan = models.ForeignKey(MarketingPlan, on_delete=models.CASCADE, related_name="milestones",
                             verbose_name=_("plan"))
    title = models.CharField(_("milestone"), max_length=160)
    due_on = models.DateField(_("due on"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("owner"))
    done_on = models.DateField(_("done on"), null=True, blank=True)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["due_on", "id"]
        constraints = [models.CheckConstraint(condition=~Q(title=""), name="plan_milestone_has_title")]

    def __str__(self) -> str:
        return f"{self.due_on} {self.title}"

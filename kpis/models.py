"""The KPI tables: computed values, targets and control lines, alerts, and the outside data they need.

Dashboards and the API read only these tables; the hot record tables are aggregated by kpis.services
in the background (Celery), never per request.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from dealership.models import Dealership


class Direction(models.TextChoices):
    HIGHER = "higher", _("Higher is better")
    LOWER = "lower", _("Lower is better")


class Status(models.TextChoices):
    OK = "ok", _("OK")
    WARN = "warn", _("Warning")
    ALERT = "alert", _("Alert")
    NONE = "none", _("No target")


class KpiValue(models.Model):
    """One KPI of one store and month, for the whole store (person null) or for one member of staff."""

    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, related_name="kpi_values")
    period = models.DateField(help_text="First day of the month, in the store's time zone.")
    code = models.CharField(max_length=40)
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                               related_name="+")
    value = models.FloatField(null=True, blank=True)
    numerator = models.FloatField(null=True, blank=True)
    denominator = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Two partial indexes instead of NULLS NOT DISTINCT, so that SQLite enforces them too.
            models.UniqueConstraint(fields=["dealership", "period", "code"], condition=Q(person__isnull=True),
                                    name="kpi_value_unique_store"),
            models.UniqueConstraint(fields=["dealership", "period", "code", "person"],
                                    condition=Q(person__isnull=False), name="kpi_value_unique_person"),
        ]
        indexes = [models.Index(fields=["dealership", "code", "period"])]

    def __str__(self) -> str:
        return f"{self.dealership_id} {self.period:%Y-%m} {self.code}={self.value}"


class ChannelValue(models.Model):
    """Campaign ROI of one channel (or all channels: channel '') over the campaigns ending in a month."""

    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, related_name="+")
    period = models.DateField()
    channel = models.CharField(max_length=16, blank=True)
    campaigns = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    gross_profit = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    roi = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dealership", "period", "channel"],
                                               name="channel_value_unique")]


class CampaignMetric(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="metrics")
    code = models.CharField(max_length=40)
    value = models.FloatField(null=True, blank=True)
    numerator = models.FloatField(null=True, blank=True)
    denominator = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "code"], name="campaign_metric_unique")]


class RecomputeJob(models.Model):
    """A requested recompute, with its progress: what `GET /api/v1/kpis/recompute/{task_id}/` reads."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    task_id = models.CharField(max_length=64, unique=True)
    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    periods = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     blank=True, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    progress = models.FloatField(default=0)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)


class KpiTarget(models.Model):
    """A target and control line for a KPI; dealership null is the default for every store."""

    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="kpi_targets", verbose_name=_("dealership"))
    code = models.CharField(_("KPI"), max_length=40)
    target = models.FloatField(_("target"))
    control_line = models.FloatField(_("control line"))
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [
            models.UniqueConstraint(fields=["dealership", "code"], condition=Q(dealership__isnull=False),
                                    name="kpi_target_unique_store"),
            models.UniqueConstraint(fields=["code"], condition=Q(dealership__isnull=True),
                                    name="kpi_target_unique_default"),
            models.CheckConstraint(condition=Q(direction__in=["higher", "lower"]), name="kpi_target_direction"),
            # The control line lies beyond the target, on the bad side.
            models.CheckConstraint(
                condition=(Q(direction="higher") & Q(control_line__lte=models.F("target")))
                | (Q(direction="lower") & Q(control_line__gte=models.F("target"))),
                name="kpi_target_control_line_beyond_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {'≥' if self.direction == 'higher' else '≤'} {self.target}"


class KpiAlert(models.Model):
    """Opened when a value crosses its control line; open until a manager records a corrective action."""

    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, related_name="kpi_alerts",
                                   verbose_name=_("dealership"))
    code = models.CharField(_("KPI"), max_length=40)
    period = models.DateField(_("period"))
    value = models.FloatField(_("value"), null=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ALERT)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    corrective_action = models.TextField(_("corrective action"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("closed by"))

    class Meta:
        verbose_name = _("KPI alert")
        verbose_name_plural = _("KPI alerts")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["dealership", "code", "period"], name="kpi_alert_one_per_month"),
            models.CheckConstraint(condition=Q(closed_at__isnull=True) | ~Q(corrective_action=""),
                                   name="kpi_alert_closed_with_action"),
        ]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class MarketData(models.Model):
    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, related_name="market_data",
                                   verbose_name=_("dealership"))
    period = models.DateField(_("period"))
    city_brand_sales = models.PositiveIntegerField(_("brand sales in the city"))
    city_brand_stores = models.PositiveIntegerField(_("same-brand stores in the city"))
    market_parc = models.PositiveIntegerField(_("brand car parc"), default=0)

    class Meta:
        verbose_name = _("market data")
        verbose_name_plural = _("market data")
        ordering = ["-period"]
        constraints = [models.UniqueConstraint(fields=["dealership", "period"], name="market_data_one_per_month")]


class Survey(models.TextChoices):
    CSI = "csi", "CSI"
    SSI = "ssi", "SSI"


class SatisfactionScore(models.Model):
    """One dealer's score in an OEM survey: the region's whole table is kept, other dealers included."""

    survey = models.CharField(_("survey"), max_length=3, choices=Survey.choices)
    period = models.DateField(_("period"))
    region = models.CharField(_("region"), max_length=60, blank=True,
                              help_text=_("Ranks are counted among dealers of the same region."))
    dealer_code = models.CharField(_("dealer code"), max_length=32)
    dealer_name = models.CharField(_("dealer name"), max_length=120, blank=True)
    score = models.DecimalField(_("score"), max_digits=7, decimal_places=2)

    class Meta:
        verbose_name = _("satisfaction score")
        verbose_name_plural = _("satisfaction scores")
        ordering = ["-period", "survey", "-score"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "period", "dealer_code"], name="satisfaction_score_unique"),
            models.CheckConstraint(condition=Q(survey__in=["csi", "ssi"]), name="satisfaction_survey_valid"),
            models.CheckConstraint(condition=Q(score__gte=0), name="satisfaction_score_not_negative"),
        ]

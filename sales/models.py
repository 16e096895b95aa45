"""The sales floor's records: traffic (visits and calls), test drives, orders and deliveries."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import money
from customers.models import Customer
from dealership.models import Dealership


class VisitKind(models.TextChoices):
    SHOWROOM = "showroom", _("Showroom visit")
    OFFSITE = "offsite", _("Off-site event visit")
    PHONE_IN = "phone_in", _("Inbound call")
    ONLINE = "online", _("Online enquiry")


TRAFFIC_KINDS = [VisitKind.SHOWROOM, VisitKind.OFFSITE, VisitKind.PHONE_IN]


class Visit(models.Model):
    """One party of traffic (客流). Anonymous when the visitor left no contact data."""

    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="visits",
                                   verbose_name=_("dealership"))
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="visits", verbose_name=_("customer"))
    kind = models.CharField(_("kind"), max_length=10, choices=VisitKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="visits", verbose_name=_("campaign"))
    consultant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="visits", verbose_name=_("consultant"))
    invited = models.BooleanField(_("came on an invitation"), default=False)
    notes = models.CharField(_("notes"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=VisitKind.values), name="visit_kind_valid"),
            models.UniqueConstraint(fields=["dealership", "external_id"], name="visit_external_id_unique"),
        ]
        indexes = [models.Index(fields=["dealership", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class TestDrive(models.Model):
    # The store is the customer's; it is kept on the row so that scoping and KPIs need no join.
    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="test_drives",
                                   verbose_name=_("dealership"))
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="test_drives",
                                 verbose_name=_("customer"))
    consultant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="test_drives", verbose_name=_("consultant"))
    occurred_at = models.DateTimeField(_("occurred at"))
    model = models.CharField(_("car model"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("test drive")
        verbose_name_plural = _("test drives")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dealership", "external_id"], name="test_drive_external_id_unique"),
        ]
        indexes = [models.Index(fields=["dealership", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.model} {self.occurred_at:%Y-%m-%d}"


class Order(models.Model):
    """A new-car order; `delivered_at` is set at delivery (交车)."""

    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="orders",
                                   verbose_name=_("dealership"))
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders",
                                 verbose_name=_("customer"))
    consultant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="orders", verbose_name=_("consultant"))
    model = models.CharField(_("car model"), max_length=60, blank=True)
    ordered_at = models.DateTimeField(_("ordered at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # When the first reached callback after the delivery was completed, kept by aftersales.services:
    # the 3-day callback rate reads it with the order instead of looking up every order's callbacks.
    first_callback_at = models.DateTimeField(_("first reached callback at"), null=True, blank=True, editable=False)
    price = money(_("price"), default=Decimal("0"))
    gross_profit = money(_("gross profit"), default=Decimal("0"),
                         help_text=_("Front-end margin; often negative before the OEM rebate."))
    oem_rebate = money(_("OEM rebate"), default=Decimal("0"))
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="orders", verbose_name=_("campaign"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="order_price_not_negative"),
            models.CheckConstraint(condition=Q(oem_rebate__gte=0), name="order_rebate_not_negative"),
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(delivered_at__gte=F("ordered_at")),
                name="order_delivered_after_ordered",
            ),
            models.UniqueConstraint(fields=["dealership", "external_id"], name="order_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["dealership", "ordered_at"]),
            # With what the KPI engine reads of a delivery (PostgreSQL): the deliveries of a month and the
            # daily profit behind a campaign's contribution per deal come from this index alone.
            models.Index(fields=["dealership", "delivered_at"], name="order_store_delivered",
                         include=["consultant", "gross_profit", "oem_rebate", "first_callback_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.ordered_at:%Y-%m-%d}"

    @property
    def profit_with_rebate(self) -> Decimal:
        return self.gross_profit + self.oem_rebate

"""After-sales: service visits (repair orders, 工单) and the callbacks (回访) after sales and service."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import money
from customers.models import Customer
from dealership.models import Dealership


class ServiceKind(models.TextChoices):
    MAINTENANCE = "maintenance", _("Maintenance")
    REPAIR = "repair", _("Repair")
    WARRANTY = "warranty", _("Warranty")
    ACCIDENT = "accident", _("Accident (body and paint)")
    OTHER = "other", _("Other")


class ServiceVisit(models.Model):
    # No single-column indexes for the store and the customer: the composite indexes below lead with
    # them and serve the same lookups, and every index is paid on each row a bulk import writes.
    # No foreign key of their own either: on PostgreSQL one composite key, (customer_id, dealership_id)
    # → customers_customer (id, dealership_id) (migration 0004), holds both and more (a visit cannot
    # belong to another store's customer; the customer's own key holds his store) with one check per
    # row instead of two. Deleting either is still refused: by PROTECT here, by that key in PostgreSQL.
    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="service_visits",
                                   verbose_name=_("dealership"), db_index=False, db_constraint=False)
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="service_visits",
                                 verbose_name=_("customer"), db_index=False, db_constraint=False)
    advisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="service_visits", verbose_name=_("advisor"))
    vin = models.CharField(_("VIN"), max_length=17, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=ServiceKind.choices, default=ServiceKind.MAINTENANCE)
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # As Order.first_callback_at: the first reached callback after the visit, kept by aftersales.services.
    first_callback_at = models.DateTimeField(_("first reached callback at"), null=True, blank=True, editable=False)
    revenue = money(_("revenue"), default=Decimal("0"))
    in_warranty = models.BooleanField(_("in warranty"), default=False)

    class Meta:
        verbose_name = _("service visit")
        verbose_name_plural = _("service visits")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ServiceKind.values), name="service_visit_kind_valid"),
            models.CheckConstraint(condition=Q(revenue__gte=0), name="service_visit_revenue_not_negative"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="service_visit_closed_after_opened",
            ),
            models.UniqueConstraint(fields=["dealership", "external_id"], name="service_visit_external_id_unique"),
        ]
        indexes = [
            # The customer as INCLUDE column (PostgreSQL): the KPI engine's store-month pass reads the
            # visits' customers from this index alone.
            models.Index(fields=["dealership", "opened_at"], include=["customer"], name="service_visit_store_opened"),
            # What the KPI engine's closed-visits pass reads, as INCLUDE columns (PostgreSQL): it reads a
            # chunk's 4.9 M closed visits from this index alone instead of the wide rows (550 MB of index
            # against the heap's 1.4 GB at 50 stores; serial 5.2 → 4.2 s, 2026-12-07).
            models.Index(fields=["dealership", "closed_at"], include=["advisor", "revenue", "first_callback_at"],
                         name="service_visit_store_closed"),
            models.Index(fields=["customer", "opened_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.opened_at:%Y-%m-%d}"


class Callback(models.Model):
    """A follow-up call after a delivery (`order`) or a closed service visit: exactly one subject."""

    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="callbacks",
                                   verbose_name=_("dealership"))
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    order = models.ForeignKey("sales.Order", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="callbacks", verbose_name=_("order"))
    service_visit = models.ForeignKey(ServiceVisit, on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="callbacks", verbose_name=_("service visit"))
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="callbacks", verbose_name=_("staff"))
    completed_at = models.DateTimeField(_("completed at"), default=timezone.now)
    reached = models.BooleanField(_("reached the customer"), default=False)
    notes = models.CharField(_("notes"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("callback")
        verbose_name_plural = _("callbacks")
        ordering = ["-completed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(order__isnull=False) & Q(service_visit__isnull=True))
                | (Q(order__isnull=True) & Q(service_visit__isnull=False)),
                name="callback_exactly_one_subject",
            ),
            models.UniqueConstraint(fields=["dealership", "external_id"], name="callback_external_id_unique"),
        ]
        indexes = [models.Index(fields=["dealership", "completed_at"])]

    def __str__(self) -> str:
        return f"callback {self.completed_at:%Y-%m-%d} {'✓' if self.reached else '✗'}"

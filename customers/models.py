"""Customers, the six lifecycle stages and the history of every move."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealership.models import Dealership
from dealership.security import mask_phone


class Stage(models.TextChoices):
    MARKET = "market", _("Market")
    POTENTIAL = "potential", _("Potential")
    TARGET = "target", _("Target")
    REAL = "real", _("Real")
    LIFETIME = "lifetime", _("Lifetime")
    LOYAL = "loyal", _("Loyal")


STAGE_ORDER: list[str] = [s.value for s in Stage]
STAGE_RANK: dict[str, int] = {s: i for i, s in enumerate(STAGE_ORDER)}
PRE_PURCHASE = {Stage.MARKET, Stage.POTENTIAL, Stage.TARGET}


class Source(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in")
    PHONE = "phone", _("Phone")
    ONLINE = "online", _("Online")
    EVENT = "event", _("Event")
    REFERRAL = "referral", _("Referral")
    LIST = "list", _("List")
    OTHER = "other", _("Other")


class Intent(models.TextChoices):
    """Purchase intent grade used by Chinese dealers (H: within 7 days ... C: over 3 months)."""

    H = "H", _("H: buys within 7 days")
    A = "A", _("A: within 15 days")
    B = "B", _("B: within 30 days")
    C = "C", _("C: within 3 months")


# The customer's columns that keep his latest four service visits, latest first (aftersales.services).
LAST_SERVICES = ["last_service_at", "last_service_2_at", "last_service_3_at", "last_service_4_at"]

# A customer's base date (kpis.md): the earlier of his first delivery and first service visit (the
# customer's columns below). A CASE, not LEAST/MIN: PostgreSQL's LEAST skips NULLs, SQLite's MIN does not.
BASE_DATE = Case(When(first_delivered_at=None, then=F("first_service_at")),
                 When(Q(first_service_at=None) | Q(first_delivered_at__lt=F("first_service_at")),
                      then=F("first_delivered_at")),
                 default=F("first_service_at"))


class Customer(models.Model):
    # No index of its own: every index of the customers leads with the store (see Meta.indexes).
    dealership = models.ForeignKey(Dealership, on_delete=models.PROTECT, related_name="customers",
                                   verbose_name=_("dealership"), db_index=False)
    external_id = models.CharField(_("external id"), max_length=64, null=True, blank=True)
    name = models.CharField(_("name"), max_length=80, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True,
                             help_text=_("Stored normalised: digits only, without +86."))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.OTHER)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="leads", verbose_name=_("campaign"), db_index=False)
    consultant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="customers", verbose_name=_("consultant"))
    referred_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="referrals", verbose_name=_("referred by"))
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.MARKET)
    intent = models.CharField(_("intent"), max_length=1, choices=Intent.choices, blank=True)
    is_lost = models.BooleanField(_("lost"), default=False)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    lost_at = models.DateTimeField(_("lost at"), null=True, blank=True)
    next_follow_up_on = models.DateField(_("next follow-up"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # When the customer first entered each stage *or a later one* (kpis.md): the funnel's cohorts
    # are read from these columns instead of replaying the history. Kept by customers.services only.
    entered_market_at = models.DateTimeField(null=True, blank=True, editable=False)
    entered_potential_at = models.DateTimeField(null=True, blank=True, editable=False)
    entered_target_at = models.DateTimeField(null=True, blank=True, editable=False)
    entered_real_at = models.DateTimeField(null=True, blank=True, editable=False)
    entered_lifetime_at = models.DateTimeField(null=True, blank=True, editable=False)
    entered_loyal_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True, editable=False)
    # The two halves of the base date (kpis.md: the earliest delivery or service visit opened), kept by
    # sales.services and aftersales.services, so that a month's customer base is read from the customers
    # instead of their whole service history.
    first_delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_service_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the customer's latest four service visits were opened (1 = the latest), kept by
    # aftersales.services: for a month after the latest, whether he was active in the 12 or 24 months
    # before its end, frequent (4 visits) or occasional (1), comes from these instead of his visits.
    last_service_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_service_2_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_service_3_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_service_4_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The instant of the latest row of the customer's history (customers.services): a month's stage at E
    # is then his current stage unless this is later than E, so only those few have their history read.
    stage_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(stage__in=STAGE_ORDER), name="customer_stage_valid"),
            models.CheckConstraint(condition=Q(source__in=Source.values), name="customer_source_valid"),
            # Only a pre-purchase customer can be lost (战败); buyers are kept or churn, never "lost".
            models.CheckConstraint(
                # A fixed list, not the set: a set's order changes from process to process, and
                # makemigrations then saw a "new" constraint every other run. This is the order the
                # initial migration recorded.
                condition=Q(is_lost=False) | Q(stage__in=["potential", "market", "target"]),
                name="customer_lost_only_before_purchase",
            ),
            models.UniqueConstraint(fields=["dealership", "external_id"], name="customer_external_id_unique"),
            # What a service visit's composite foreign key (customer, store) refers to (aftersales 0004).
            models.UniqueConstraint(fields=["id", "dealership"], name="customer_id_dealership_unique"),
        ]
        indexes = [
            models.Index(fields=["dealership", "phone"]),
            # A consultant's customers by stage; with what the store-month's stage count read before it
            # summed the kept runs (PostgreSQL, 2026-12-07; SQLite's still counts this way, without INCLUDE).
            models.Index(fields=["dealership", "consultant", "stage"], name="customer_consultant_stage",
                         include=["is_lost", "entered_market_at", "stage_changed_at"]),
            models.Index(fields=["dealership", "entered_target_at"]),
            models.Index(fields=["dealership", "created_at"]),  # the API's ?from=&to= range
            # A campaign's leads, with their ids (PostgreSQL INCLUDE): the KPI engine joins them to their
            # orders from this index alone: the campaign figures of 25 stores (200,000 leads) took 1.9 s
            # reading each lead's wide row, 0.4–0.8 s from here (2026-12-07). Only the customers with a
            # campaign: most have none.
            models.Index(fields=["campaign"], include=["id"], condition=Q(campaign__isnull=False),
                         name="customer_campaign_leads"),
            # Everything the KPI engine's full passes read of all of a store's customers, so that they read
            # this index alone, not the wide rows (PostgreSQL). Without the latest four visits since the
            # store-month reads the kept runs (customers 0016; SQLite's, which still reads them, has no
            # INCLUDE anyway).
            models.Index(fields=["dealership"], name="customer_kpi_columns",
                         include=["id", "consultant", "referred_by", "stage", "is_lost",
                                  *[f"entered_{s}_at" for s in STAGE_ORDER],
                                  "first_delivered_at", "first_service_at", "stage_changed_at"]),
            # The customers by base date (BASE_DATE), with its two halves: a store-month's customer base
            # (in the base, new, in it for a year, first visit in its last year) is a few counts of this
            # index's ranges, not an expression on each of the store's customers (one store of the
            # benchmark's 40,000 customers: 22 → 4 ms). kpis.engine.BASE_AT is the same expression in SQL,
            # which the planner must see for it to use the index (tests/kpis/test_store_month_plan.py).
            models.Index(F("dealership"), BASE_DATE, name="customer_store_base",
                         include=["first_delivered_at", "first_service_at"]),
            # The customers changed since a month's start, for the store-month's look-ups (stage at E, lost
            # deals, funnel cohorts): those few entries instead of all of the store's. Not the KPI index's
            # key: keyed by the store alone its entries follow the table's order, which its full reads
            # depend on (measured: 20 times the visibility-map reads when ordered by the change).
            models.Index(fields=["dealership", "stage_changed_at"], name="customer_store_changed",
                         include=["id", "consultant", *[f"entered_{s}_at" for s in STAGE_ORDER]]),
        ]

    def __str__(self) -> str:
        return self.name or self.phone or f"#{self.pk}"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def is_buyer(self) -> bool:
        return STAGE_RANK[self.stage] >= STAGE_RANK[Stage.REAL]


class StageChange(models.Model):
    """One line of a customer's lifecycle history: a move, a loss or a reactivation."""

    class Kind(models.TextChoices):
        MOVE = "move", _("Stage move")
        LOST = "lost", _("Marked lost")
        REACTIVATED = "reactivated", _("Reactivated")

    # No index of its own: (customer, at) below leads with it, and an import pays every index per row.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="stage_changes", db_index=False)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MOVE)
    from_stage = models.CharField(_("from"), max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to"), max_length=16, choices=Stage.choices)
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="+", verbose_name=_("by"))
    reason = models.CharField(_("reason"), max_length=200, blank=True,
                              help_text=_("What moved it: the event, a hand move, or the lost reason."))
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage history")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(to_stage__in=STAGE_ORDER), name="stage_change_to_valid"),
            models.CheckConstraint(condition=Q(kind__in=["move", "lost", "reactivated"]),
                                   name="stage_change_kind_valid"),
        ]
        indexes = [
            # A customer's history in order, with what the store-month reads of it (his state at E: the
            # latest change before E, ties by id; his lost deals): index-only look-ups.
            models.Index(fields=["customer", "at", "id"], name="stage_change_customer_at",
                         include=["kind", "from_stage", "to_stage"]),
            # The changes after a month's end, which is how the stage at E of a recent month is found.
            models.Index(fields=["at"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_stage or '-'} → {self.to_stage} @ {self.at:%Y-%m-%d %H:%M}"

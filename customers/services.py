"""The customer lifecycle: the only place a stage moves.

Rules (spec/domain.md):
- events move customers forward at the event's own time, never backward;
- a skipped stage is recorded as a passage at the same instant, never silently;
- a user may move a customer by hand, either way, with the history kept;
- only a pre-purchase customer can be lost; a lost customer can be reactivated;
- every move, loss and reactivation is a StageChange row saying when and by whom.
"""
from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from customers.models import PRE_PURCHASE, STAGE_ORDER, STAGE_RANK, Customer, Source, Stage, StageChange
from dealership.models import Dealership, User
from dealership.services import check_same_store, existing_for_external_id, kpi_months_mark_stale

_PHONE_NOISE = re.compile(r"[\s\-().·]")


def normalize_phone(raw: str | None) -> str:
    """'+86 139-1234-5678' → '13912345678'. Returns '' for empty input; keeps other digits as given."""
    if not raw:
        return ""
    phone = str(raw).strip()
    if phone.endswith(".0") and phone[:-2].isdigit():  # a number Excel stored as a float
        phone = phone[:-2]
    phone = _PHONE_NOISE.sub("", phone)
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            phone = phone[len(prefix):]
    if phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    if not re.fullmatch(r"\+?\d{5,15}", phone):
        raise ValidationError({"phone": _("Enter a phone number: digits, spaces and dashes only.")})
    return phone


@transaction.atomic
def customer_create(
    *,
    dealership: Dealership,
    name: str = "",
    phone: str = "",
    source: str = Source.OTHER,
    campaign: Campaign | None = None,
    consultant: User | None = None,
    referred_by: Customer | None = None,
    stage: str = Stage.MARKET,
    intent: str = "",
    notes: str = "",
    created_at: dt.datetime | None = None,
    external_id: str | None = None,
    by: User | None = None,
) -> Customer:
    """Create a customer at its initial stage (passing the earlier ones at the same instant).

    With an `external_id` already known in the store, the customer is updated instead (DMS imports);
    its stage then moves only through events and `customer_move_stage`.
    """
    check_same_store(dealership, campaign=campaign, consultant=consultant, referred_by=referred_by)
    if stage not in STAGE_RANK:
        raise ValidationError({"stage": _("Unknown stage %(stage)s.") % {"stage": stage}})
    if source not in Source.values:
        raise ValidationError({"source": _("Unknown source %(source)s.") % {"source": source}})
    fields = dict(name=name, phone=normalize_phone(phone), source=source, campaign=campaign,
                  consultant=consultant, referred_by=referred_by, intent=intent, notes=notes)
    existing = existing_for_external_id(Customer, dealership=dealership, external_id=external_id)
    if existing is not None:
        for key, value in fields.items():
            setattr(existing, key, value)
        existing.full_clean(exclude=["dealership"])
        existing.save()
        return existing
    at = created_at or timezone.now()
    customer = Customer(dealership=dealership, external_id=external_id or None, stage=Stage.MARKET,
                        created_at=at, entered_market_at=at, stage_changed_at=at, **fields)
    customer.full_clean(validate_constraints=False)
    customer.save()
    StageChange.objects.create(customer=customer, from_stage="", to_stage=Stage.MARKET, at=at, by=by,
                               reason="created")
    if stage != Stage.MARKET:
        _move(customer, stage, at=at, by=by, reason="created")
    kpi_months_mark_stale(dealership=dealership, instants=[at])
    return customer


def _lock(customer: Customer) -> Customer:
    """Re-read the customer under a row lock: two users moving one customer at once queue up here."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _move(customer: Customer, stage: str, *, at: dt.datetime, by: User | None, reason: str) -> list[StageChange]:
    """Move a locked customer to `stage`: forward through every skipped stage, or straight back."""
    current = STAGE_RANK[customer.stage]
    goal = STAGE_RANK[stage]
    if goal == current:
        return []
    if goal > current:
        path = STAGE_ORDER[current: goal + 1]
        hops = list(zip(path, path[1:]))
        for passed in path[1:]:
            column = f"entered_{passed}_at"
            first = getattr(customer, column)
            if first is None or at < first:
                setattr(customer, column, at)
    else:
        hops = [(customer.stage, stage)]
    changes = StageChange.objects.bulk_create([
        StageChange(customer=customer, from_stage=a, to_stage=b, at=at, by=by, reason=reason) for a, b in hops
    ])
    _changed(customer, at)
    customer.stage = stage
    if customer.is_lost and stage not in PRE_PURCHASE:
        # A lost lead who buys after all is no longer lost (the database forbids a lost buyer).
        _reactivate(customer, at=at, by=by)
    customer.save()
    return changes


def _changed(customer: Customer, at: dt.datetime) -> None:
    """Keep the instant of the customer's latest history row (an event may be back-dated: the latest)."""
    if customer.stage_changed_at is None or at > customer.stage_changed_at:
        customer.stage_changed_at = at


def customers_stage_changed_refresh(customers: QuerySet[Customer]) -> int:
    """`stage_changed_at` from the history, for writers that bypass the services (demo, benchmark data)."""
    last = StageChange.objects.filter(customer=OuterRef("pk")).order_by("-at").values("at")[:1]
    return customers.update(stage_changed_at=Subquery(last))


def _reactivate(customer: Customer, *, at: dt.datetime, by: User | None) -> None:
    StageChange.objects.create(customer=customer, kind=StageChange.Kind.REACTIVATED, from_stage=customer.stage,
                               to_stage=customer.stage, at=at, by=by, reason="reactivated")
    _changed(customer, at)
    customer.is_lost = False
    customer.lost_reason = ""
    customer.lost_at = None


@transaction.atomic
def customer_move_stage(
    *, customer: Customer, stage: str, at: dt.datetime | None = None, by: User | None = None, reason: str = "hand move"
) -> list[StageChange]:
    """A hand move (either direction), with the history kept and skipped stages passed through."""
    if stage not in STAGE_RANK:
        raise ValidationError({"stage": _("Unknown stage %(stage)s.") % {"stage": stage}})
    # The time is read after the lock: a user who waited for it acted after the one who held it.
    customer = _lock(customer)
    at = at or timezone.now()
    changes = _move(customer, stage, at=at, by=by, reason=reason)
    if changes:
        kpi_months_mark_stale(dealership=customer.dealership, instants=[at])
    return changes


@transaction.atomic
def customer_advance(
    *, customer: Customer, stage: str, at: dt.datetime, by: User | None = None, reason: str
) -> list[StageChange]:
    """An event's automatic move: forward only, at the event's own time. Called by sales and after-sales."""
    customer = _lock(customer)
    if STAGE_RANK[stage] <= STAGE_RANK[customer.stage]:
        return []
    return _move(customer, stage, at=at, by=by, reason=reason)


@transaction.atomic
def customer_mark_lost(
    *, customer: Customer, reason: str, at: dt.datetime | None = None, by: User | None = None
) -> StageChange:
    """战败: a pre-purchase customer gives up; the reason is kept."""
    # The time is read after the lock: a user who waited for it acted after the one who held it.
    customer = _lock(customer)
    at = at or timezone.now()
    if customer.stage not in PRE_PURCHASE:
        raise ValidationError({"stage": _("Only a customer who has not bought yet can be marked lost.")})
    if customer.is_lost:
        raise ValidationError({"is_lost": _("This customer is already marked lost.")})
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Say why the deal was lost.")})
    customer.is_lost = True
    customer.lost_reason = reason.strip()
    customer.lost_at = at
    _changed(customer, at)
    customer.save()
    kpi_months_mark_stale(dealership=customer.dealership, instants=[at])
    return StageChange.objects.create(customer=customer, kind=StageChange.Kind.LOST, from_stage=customer.stage,
                                      to_stage=customer.stage, at=at, by=by, reason=customer.lost_reason)


@transaction.atomic
def customer_reactivate(*, customer: Customer, at: dt.datetime | None = None, by: User | None = None) -> Customer:
    # The time is read after the lock: a user who waited for it acted after the one who held it.
    customer = _lock(customer)
    at = at or timezone.now()
    if not customer.is_lost:
        raise ValidationError({"reactivate": _("This customer is not marked lost.")})
    _reactivate(customer, at=at, by=by)
    customer.save()
    kpi_months_mark_stale(dealership=customer.dealership, instants=[at])
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, by: User | None = None, **fields) -> Customer:
    """Edit contact and ownership fields. The stage and the lost flag have their own services."""
    forbidden = {"stage", "is_lost", "dealership", "created_at"} & fields.keys()
    if forbidden:
        raise ValidationError({f: _("This field cannot be changed here.") for f in forbidden})
    customer = _lock(customer)
    check_same_store(customer.dealership, **{k: v for k, v in fields.items()
                                              if k in ("campaign", "consultant", "referred_by")})
    if "phone" in fields:
        fields["phone"] = normalize_phone(fields["phone"])
    if fields.get("referred_by") is not None and fields["referred_by"].pk == customer.pk:
        raise ValidationError({"referred_by": _("A customer cannot refer himself.")})
    moved = {key for key in KPI_FIELDS & fields.keys() if getattr(customer, key) != fields[key]}
    for key, value in fields.items():
        setattr(customer, key, value)
    customer.full_clean(exclude=["dealership"])
    customer.save()
    if moved:
        kpi_months_mark_stale(dealership=customer.dealership, instants=[customer.created_at])
    return customer


# The customer's own fields that KPIs read (by-person breakdowns, referral deals, campaign leads and
# deals): a change to one moves figures from the month he was created on. A new name, phone number,
# intent or note moves none, so it recomputes nothing.
KPI_FIELDS = {"consultant", "referred_by", "campaign"}


def customer_touch(*, customer: Customer, at: dt.datetime) -> None:
    """Note a contact (visit, call, test drive...) for the 'no follow-up for N days' list."""
    Customer.objects.filter(pk=customer.pk).exclude(last_contact_at__gte=at).update(last_contact_at=at)


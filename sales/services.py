"""Sales-floor writes: traffic, test drives, orders and deliveries, each moving the customer's stage."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from customers.models import Customer, Stage
from customers.services import customer_advance, customer_touch
from dealership.models import Dealership, User
from dealership.services import check_same_store, existing_for_external_id, kpi_months_mark_stale
from sales.models import Order, TestDrive, Visit, VisitKind


def _save(obj) -> None:
    # References were checked above (same store); field rules and CHECK constraints are checked here
    # so that bad input is a ValidationError with a message, not an IntegrityError.
    obj.full_clean(exclude=["dealership", "customer", "campaign", "consultant"], validate_unique=False)
    obj.save()


@transaction.atomic
def visit_create(
    *,
    dealership: Dealership,
    kind: str,
    occurred_at: dt.datetime,
    customer: Customer | None = None,
    campaign: Campaign | None = None,
    consultant: User | None = None,
    invited: bool = False,
    notes: str = "",
    external_id: str | None = None,
    by: User | None = None,
) -> Visit:
    """Log traffic. A visit, call or enquiry makes a `market` customer `potential` (first contact)."""
    if kind not in VisitKind.values:
        raise ValidationError({"kind": _("Unknown visit kind %(kind)s.") % {"kind": kind}})
    check_same_store(dealership, customer=customer, campaign=campaign, consultant=consultant)
    visit = existing_for_external_id(Visit, dealership=dealership, external_id=external_id)
    old_at = visit.occurred_at if visit else None
    visit = visit or Visit(dealership=dealership, external_id=external_id or None)
    for key, value in dict(kind=kind, occurred_at=occurred_at, customer=customer, campaign=campaign,
                           consultant=consultant, invited=invited, notes=notes).items():
        setattr(visit, key, value)
    _save(visit)
    if customer is not None:
        customer_advance(customer=customer, stage=Stage.POTENTIAL, at=occurred_at, by=by,
                         reason=f"visit:{kind}")
        customer_touch(customer=customer, at=occurred_at)
    kpi_months_mark_stale(dealership=dealership, instants=[occurred_at, old_at])
    return visit


@transaction.atomic
def test_drive_create(
    *,
    customer: Customer,
    occurred_at: dt.datetime,
    consultant: User | None = None,
    model: str = "",
    external_id: str | None = None,
    by: User | None = None,
) -> TestDrive:
    """A test drive makes anyone below `target` a target customer, as of the drive."""
    dealership = customer.dealership
    check_same_store(dealership, consultant=consultant)
    drive = existing_for_external_id(TestDrive, dealership=dealership, external_id=external_id)
    old_at = drive.occurred_at if drive else None
    drive = drive or TestDrive(dealership=dealership, external_id=external_id or None)
    drive.customer, drive.consultant, drive.occurred_at, drive.model = customer, consultant, occurred_at, model
    _save(drive)
    customer_advance(customer=customer, stage=Stage.TARGET, at=occurred_at, by=by, reason="test_drive")
    customer_touch(customer=customer, at=occurred_at)
    kpi_months_mark_stale(dealership=dealership, instants=[occurred_at, old_at])
    return drive


test_drive_create.__test__ = False  # its domain name starts with "test_": tell pytest it is not a test


@transaction.atomic
def order_create(
    *,
    customer: Customer,
    ordered_at: dt.datetime,
    consultant: User | None = None,
    model: str = "",
    price: Decimal = Decimal("0"),
    gross_profit: Decimal = Decimal("0"),
    oem_rebate: Decimal = Decimal("0"),
    campaign: Campaign | None = None,
    delivered_at: dt.datetime | None = None,
    external_id: str | None = None,
    by: User | None = None,
) -> Order:
    """An order makes the customer `real`; a buyer's second order makes him `loyal`."""
    dealership = customer.dealership
    check_same_store(dealership, consultant=consultant, campaign=campaign)
    if delivered_at is not None and delivered_at < ordered_at:
        raise ValidationError({"delivered_at": _("A car cannot be delivered before it was ordered.")})
    order = existing_for_external_id(Order, dealership=dealership, external_id=external_id)
    touched = [order.ordered_at, order.delivered_at] if order else []
    buyers = {customer.pk, order.customer_id} if order else {customer.pk}
    is_new = order is None
    order = order or Order(dealership=dealership, external_id=external_id or None)
    for key, value in dict(customer=customer, consultant=consultant, model=model, ordered_at=ordered_at,
                           delivered_at=delivered_at, price=price, gross_profit=gross_profit,
                           oem_rebate=oem_rebate, campaign=campaign).items():
        setattr(order, key, value)
    _save(order)
    if is_new:
        earlier = Order.objects.filter(customer=customer, ordered_at__lte=ordered_at).exclude(pk=order.pk)
        stage = Stage.LOYAL if earlier.exists() else Stage.REAL
        customer_advance(customer=customer, stage=stage, at=ordered_at, by=by,
                         reason="repeat_order" if stage == Stage.LOYAL else "order")
        customer_touch(customer=customer, at=ordered_at)
    customers_first_delivery_refresh(Customer.objects.filter(pk__in=buyers))
    kpi_months_mark_stale(dealership=dealership, instants=[ordered_at, delivered_at, *touched])
    return order


@transaction.atomic
def order_deliver(*, order: Order, delivered_at: dt.datetime, by: User | None = None) -> Order:
    """交车: the car is handed over; a 3-day callback becomes due (see aftersales.selectors)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if delivered_at < order.ordered_at:
        raise ValidationError({"delivered_at": _("A car cannot be delivered before it was ordered.")})
    previous = order.delivered_at
    order.delivered_at = delivered_at
    order.save(update_fields=["delivered_at"])
    customer_touch(customer=order.customer, at=delivered_at)
    customers_first_delivery_refresh(Customer.objects.filter(pk=order.customer_id))
    kpi_months_mark_stale(dealership=order.dealership, instants=[delivered_at, previous])
    return order


def customers_first_delivery_refresh(customers: QuerySet[Customer]) -> int:
    """Set `first_delivered_at` to each customer's earliest delivery, recomputed rather than lowered, so
    that a delivery date moved later (or an order moved to another customer) leaves it right too."""
    first = (Order.objects.filter(customer=OuterRef("pk"), delivered_at__isnull=False)
             .order_by("delivered_at").values("delivered_at")[:1])
    return customers.update(first_delivered_at=Subquery(first))

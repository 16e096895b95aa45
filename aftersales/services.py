"""After-sales writes: service visits (which move buyers to lifetime or loyal) and callbacks."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.models import Callback, ServiceKind, ServiceVisit
from customers.models import LAST_SERVICES, Customer, Stage
from customers.services import customer_advance, customer_touch
from dealership.models import User
from dealership.services import check_same_store, existing_for_external_id, kpi_months_mark_stale
from sales.models import Order
from sales.services import customers_first_delivery_refresh


@transaction.atomic
def service_visit_create(
    *,
    customer: Customer,
    opened_at: dt.datetime,
    closed_at: dt.datetime | None = None,
    advisor: User | None = None,
    vin: str = "",
    kind: str = ServiceKind.MAINTENANCE,
    revenue: Decimal = Decimal("0"),
    in_warranty: bool = False,
    external_id: str | None = None,
    by: User | None = None,
) -> ServiceVisit:
    """A repair order. It moves buyers only: in warranty to `lifetime`, out of warranty to `loyal`.

    A customer who bought elsewhere stays where he is in the funnel; he joins the after-sales base
    through the visit itself (kpis.md, customer base).
    """
    dealership = customer.dealership
    check_same_store(dealership, advisor=advisor)
    if closed_at is not None and closed_at < opened_at:
        raise ValidationError({"closed_at": _("A repair order cannot close before it was opened.")})
    visit = existing_for_external_id(ServiceVisit, dealership=dealership, external_id=external_id)
    touched = [visit.opened_at, visit.closed_at] if visit else []
    serviced = {customer.pk, visit.customer_id} if visit else {customer.pk}
    # The customers locked before their service dates are recomputed (as callback_create does): a visit
    # recorded at the same moment for one of them waits here, so each recompute sees the other visit.
    list(Customer.objects.select_for_update().filter(pk__in=serviced).order_by("pk").values_list("pk"))
    visit = visit or ServiceVisit(dealership=dealership, external_id=external_id or None)
    for key, value in dict(customer=customer, advisor=advisor, vin=(vin or "").upper(), kind=kind,
                           opened_at=opened_at, closed_at=closed_at, revenue=revenue,
                           in_warranty=in_warranty).items():
        setattr(visit, key, value)
    visit.full_clean(exclude=["dealership", "customer", "advisor"], validate_unique=False)
    visit.save()
    customer.refresh_from_db(fields=["stage"])
    if customer.is_buyer:
        customer_advance(customer=customer, stage=Stage.LIFETIME if in_warranty else Stage.LOYAL,
                         at=opened_at, by=by, reason="service_in_warranty" if in_warranty else "service")
    customer_touch(customer=customer, at=opened_at)
    customers_service_dates_refresh(Customer.objects.filter(pk__in=serviced))
    kpi_months_mark_stale(dealership=dealership, instants=[opened_at, closed_at, *touched])
    return visit


def customers_service_dates_refresh(customers: QuerySet[Customer]) -> int:
    """Set `first_service_at` to each customer's earliest service visit opened and LAST_SERVICES to his
    latest four (recomputed, not moved: a re-imported visit may have moved in time or to another customer)."""
    visits = ServiceVisit.objects.filter(customer=OuterRef("pk")).values("opened_at")
    latest = {column: Subquery(visits.order_by("-opened_at")[k:k + 1]) for k, column in enumerate(LAST_SERVICES)}
    return customers.update(first_service_at=Subquery(visits.order_by("opened_at")[:1]), **latest)


def customers_first_dates_refresh(customers: QuerySet[Customer]) -> None:
    """Both halves of the base date, for writers that bypass the services (demo and benchmark data)."""
    customers_first_delivery_refresh(customers)
    customers_service_dates_refresh(customers)


@transaction.atomic
def service_visit_close(
    *, service_visit: ServiceVisit, closed_at: dt.datetime | None = None, revenue: Decimal | None = None
) -> ServiceVisit:
    """结算: the repair order is settled; a 3-day callback becomes due (see aftersales.selectors)."""
    visit = ServiceVisit.objects.select_for_update().get(pk=service_visit.pk)
    closed_at = closed_at or timezone.now()
    if closed_at < visit.opened_at:
        raise ValidationError({"closed_at": _("A repair order cannot close before it was opened.")})
    previous = visit.closed_at
    visit.closed_at = closed_at
    if revenue is not None:
        if revenue < 0:
            raise ValidationError({"revenue": _("Revenue cannot be negative.")})
        visit.revenue = revenue
    visit.save(update_fields=["closed_at", "revenue"])
    kpi_months_mark_stale(dealership=visit.dealership, instants=[closed_at, previous])
    return visit


@transaction.atomic
def callback_create(
    *,
    order: Order | None = None,
    service_visit: ServiceVisit | None = None,
    staff: User | None = None,
    completed_at: dt.datetime | None = None,
    reached: bool = False,
    notes: str = "",
    external_id: str | None = None,
) -> Callback:
    """回访: a call after a delivery (`order`) or a closed service visit. Exactly one subject."""
    if (order is None) == (service_visit is None):
        raise ValidationError({"order": _("A callback is about exactly one delivery or one service visit."),
                               "service_visit": _("A callback is about exactly one delivery or one service visit.")})
    subject = order or service_visit
    dealership = subject.dealership
    check_same_store(dealership, staff=staff)
    completed_at = completed_at or timezone.now()
    callback = existing_for_external_id(Callback, dealership=dealership, external_id=external_id)
    # A re-sent callback may have moved to another subject: the one it leaves is recomputed too, and
    # its month (the callback KPIs count by the subject's delivery or closing) goes stale.
    left = (callback.order_id, callback.service_visit_id) if callback else (None, None)
    touched = [callback.completed_at, _event_at(callback)] if callback else []
    orders = Order.objects.filter(pk__in={left[0], getattr(order, "pk", None)} - {None})
    visits = ServiceVisit.objects.filter(pk__in={left[1], getattr(service_visit, "pk", None)} - {None})
    # The subjects locked (in one order: no deadlock) before their first callback is recomputed: a call
    # recorded at the same moment waits here, so each recompute sees the other call (tests/reliability).
    list(orders.select_for_update().order_by("pk").values_list("pk"))
    list(visits.select_for_update().order_by("pk").values_list("pk"))
    callback = callback or Callback(dealership=dealership, external_id=external_id or None)
    for key, value in dict(order=order, service_visit=service_visit, staff=staff, completed_at=completed_at,
                           reached=reached, notes=notes).items():
        setattr(callback, key, value)
    callback.full_clean(exclude=["dealership", "order", "service_visit", "staff"], validate_unique=False)
    callback.save()
    subjects_first_callback_refresh(orders=orders, service_visits=visits)
    subject.refresh_from_db(fields=["first_callback_at"])
    customer_touch(customer=subject.customer, at=completed_at)
    kpi_months_mark_stale(dealership=dealership, instants=[_event_at(callback), completed_at, *touched])
    return callback


def _event_at(callback: Callback) -> dt.datetime | None:
    """The instant the callback KPIs count a callback by: its subject's delivery or closing, not the call."""
    return callback.order.delivered_at if callback.order_id else callback.service_visit.closed_at


def subjects_first_callback_refresh(*, orders: QuerySet[Order], service_visits: QuerySet[ServiceVisit]) -> None:
    """Set `first_callback_at` of these deliveries and service visits to the completion of their earliest
    reached callback (recomputed, not moved: a re-sent callback may have changed time, outcome or subject)."""
    reached = Callback.objects.filter(reached=True).order_by("completed_at").values("completed_at")
    orders.update(first_callback_at=Subquery(reached.filter(order=OuterRef("pk"))[:1]))
    service_visits.update(first_callback_at=Subquery(reached.filter(service_visit=OuterRef("pk"))[:1]))

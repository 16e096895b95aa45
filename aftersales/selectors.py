"""Reads about service visits and callbacks, and the callbacks that are due."""
from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from aftersales.models import Callback, ServiceVisit
from customers.selectors import customer_records_filter
from dealership.models import Role, User
from dealership.selectors import scope_to_stores
from sales.models import Order

CALLBACK_DAYS = 3  # 3天内有效回访


def service_visits_for_user(user: User) -> QuerySet[ServiceVisit]:
    return scope_to_stores(ServiceVisit.objects.all(), user).filter(customer_records_filter(user))


def service_visit_get_for_user(user: User, pk: int) -> ServiceVisit:
    return get_object_or_404(service_visits_for_user(user).select_related("customer", "dealership"), pk=pk)


def callbacks_for_user(user: User) -> QuerySet[Callback]:
    qs = scope_to_stores(Callback.objects.all(), user)
    if user.is_authenticated and user.role == Role.CONSULTANT and not user.is_superuser:
        qs = qs.filter(Q(order__customer__consultant=user) | Q(service_visit__customer__consultant=user))
    return qs


def callback_get_for_user(user: User, pk: int) -> Callback:
    return get_object_or_404(callbacks_for_user(user), pk=pk)


def deliveries_awaiting_callback(user: User, *, since: dt.datetime) -> QuerySet[Order]:
    """The 3-day callback tasks after deliveries: delivered since `since`, with no reached callback yet.

    Tasks are derived, not stored: every delivery has one until a call reaches the customer, whoever
    (page, API, import) recorded the delivery or the call.
    """
    reached = Callback.objects.filter(order=OuterRef("pk"), reached=True)
    qs = scope_to_stores(Order.objects.all(), user).filter(customer_records_filter(user))
    return (qs.filter(delivered_at__gte=since).filter(~Exists(reached))
            .select_related("customer", "consultant").order_by("delivered_at"))


def service_visits_awaiting_callback(user: User, *, since: dt.datetime) -> QuerySet[ServiceVisit]:
    """The 3-day callback tasks after closed service visits (an advisor's list; a manager sees all)."""
    reached = Callback.objects.filter(service_visit=OuterRef("pk"), reached=True)
    qs = service_visits_for_user(user)
    if user.is_authenticated and user.role == Role.ADVISOR:
        qs = qs.filter(Q(advisor=user) | Q(advisor__isnull=True))
    return (qs.filter(closed_at__gte=since).filter(~Exists(reached))
            .select_related("customer", "advisor").order_by("closed_at"))

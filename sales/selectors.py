"""Reads about visits, test drives and orders, scoped to what the user may see."""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from customers.selectors import customer_records_filter
from dealership.models import Role, User
from dealership.selectors import scope_to_stores
from sales.models import Order, TestDrive, Visit


def visits_for_user(user: User) -> QuerySet[Visit]:
    qs = scope_to_stores(Visit.objects.all(), user)
    if user.is_authenticated and user.role == Role.CONSULTANT and not user.is_superuser:
        # His customers' visits, and the anonymous walk-ins he received himself.
        qs = qs.filter(Q(customer__consultant=user) | Q(customer__isnull=True, consultant=user))
    return qs


def test_drives_for_user(user: User) -> QuerySet[TestDrive]:
    return scope_to_stores(TestDrive.objects.all(), user).filter(customer_records_filter(user))


def orders_for_user(user: User) -> QuerySet[Order]:
    return scope_to_stores(Order.objects.all(), user).filter(customer_records_filter(user))


def visit_get_for_user(user: User, pk: int) -> Visit:
    return get_object_or_404(visits_for_user(user), pk=pk)


def test_drive_get_for_user(user: User, pk: int) -> TestDrive:
    return get_object_or_404(test_drives_for_user(user), pk=pk)


def order_get_for_user(user: User, pk: int) -> Order:
    return get_object_or_404(orders_for_user(user).select_related("customer", "dealership"), pk=pk)

"""Reads about customers. `customers_for_user` is the one permission-scoped lookup every view and API uses."""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from customers.models import Customer, StageChange
from dealership.models import Role, User
from dealership.selectors import scope_to_stores


def customers_for_user(user: User) -> QuerySet[Customer]:
    """The store's customers; a sales consultant sees only his or her own."""
    qs = scope_to_stores(Customer.objects.all(), user)
    if user.is_authenticated and user.role == Role.CONSULTANT and not user.is_superuser:
        qs = qs.filter(consultant=user)
    return qs


def customer_get_for_user(user: User, pk: int) -> Customer:
    """A customer the user may see, or 404 (another store's customer does not exist for him)."""
    return get_object_or_404(customers_for_user(user).select_related("dealership"), pk=pk)


def customer_records_filter(user: User, customer_field: str = "customer") -> Q:
    """For records hanging off a customer: a consultant sees only those of his own customers."""
    if user.is_authenticated and user.role == Role.CONSULTANT and not user.is_superuser:
        return Q(**{f"{customer_field}__consultant": user})
    return Q()


def customer_history(customer: Customer) -> QuerySet[StageChange]:
    return customer.stage_changes.select_related("by").order_by("at", "id")


def customer_find_by_phone(*, dealership_id: int, phone: str) -> Customer | None:
    if not phone:
        return None
    return Customer.objects.filter(dealership_id=dealership_id, phone=phone).order_by("id").first()

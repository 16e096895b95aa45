"""Reads about stores and staff, and the one rule of which stores a user may see."""
from __future__ import annotations

from django.db.models import QuerySet

from dealership.models import Dealership, Role, User


def dealerships_for_user(user: User) -> QuerySet[Dealership]:
    """The stores a user may see: all for a superuser, the group's for a group manager, else one."""
    if not user.is_authenticated:
        return Dealership.objects.none()
    if user.sees_all_stores:
        return Dealership.objects.all()
    if user.role == Role.GROUP_MANAGER:
        return Dealership.objects.filter(group_id=user.group_id)
    return Dealership.objects.filter(pk=user.dealership_id)


def scope_to_stores(qs: QuerySet, user: User, field: str = "dealership") -> QuerySet:
    """Restrict any store-owned queryset to the stores `user` may see (one query, no IN list)."""
    if not user.is_authenticated:
        return qs.none()
    if user.sees_all_stores:
        return qs
    if user.role == Role.GROUP_MANAGER:
        return qs.filter(**{f"{field}__group_id": user.group_id})
    return qs.filter(**{f"{field}_id": user.dealership_id})


def staff_for_user(user: User) -> QuerySet[User]:
    return scope_to_stores(User.objects.all(), user).select_related("dealership")


def staff_get_for_user(user: User, pk: int) -> User:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(staff_for_user(user), pk=pk)


def dealership_get_for_user(user: User, pk: int) -> Dealership:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(dealerships_for_user(user), pk=pk)


def consultants_of(dealership: Dealership) -> QuerySet[User]:
    return User.objects.filter(dealership=dealership, role=Role.CONSULTANT, is_active=True).order_by("username")

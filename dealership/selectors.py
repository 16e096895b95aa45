"""Reads about stores and staff, the one rule of which stores a user may see, and the audit trail."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from dealership.models import AuditEntry, Dealership, Role, User


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


# The record types of the audit trail's filter, by the model label the trail stores (settings.AUDITED_MODELS).
AUDIT_KINDS = {
    "customer": "customers.Customer", "order": "sales.Order", "service_visit": "aftersales.ServiceVisit",
    "campaign": "campaigns.Campaign", "target": "kpis.KpiTarget", "alert": "kpis.KpiAlert",
}


def audit_entries_for_user(user: User) -> QuerySet[AuditEntry]:
    """The trail a manager answers for: his store's entries, a group manager's group's, a superuser's all.

    Entries carry a plain store id (no foreign key, so that the trail outlives what it names). An export
    by a group manager has no store: he alone sees it, beside his stores' entries.
    """
    if not (user.is_authenticated and user.is_manager):
        return AuditEntry.objects.none()
    if user.sees_all_stores:
        return AuditEntry.objects.all()
    if user.role == Role.GROUP_MANAGER:
        stores = Dealership.objects.filter(group_id=user.group_id).values("pk")
        return AuditEntry.objects.filter(Q(dealership_id__in=stores) | Q(dealership_id__isnull=True, actor_id=user.pk))
    return AuditEntry.objects.filter(dealership_id=user.dealership_id)


def audit_entries_filtered(user: User, *, kind: str = "", action: str = "", actor_id: int | None = None,
                           since: dt.datetime | None = None, until: dt.datetime | None = None,
                           object_id: str = "") -> QuerySet[AuditEntry]:
    """Newest first. `kind` is a key of AUDIT_KINDS or "export" (any exported list); `until` is exclusive."""
    qs = audit_entries_for_user(user)
    if kind == "export":
        qs = qs.filter(action=AuditEntry.Action.EXPORT)
    elif kind:
        qs = qs.filter(model=AUDIT_KINDS[kind])
    if action:
        qs = qs.filter(action=action)
    if actor_id is not None:
        qs = qs.filter(actor_id=actor_id)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    if object_id:
        qs = qs.filter(object_id=object_id)
    return qs.order_by("-at", "-id")

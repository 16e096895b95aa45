"""Dealer groups, their 4S stores and the staff who work in them."""
from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class DealerGroup(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)

    class Meta:
        verbose_name = _("dealer group")
        verbose_name_plural = _("dealer groups")

    def __str__(self) -> str:
        return self.name


class Dealership(models.Model):
    """A 4S store. `code` is the OEM's dealer code (unique across the OEM's network)."""

    group = models.ForeignKey(
        DealerGroup, verbose_name=_("group"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="dealerships",
    )
    code = models.CharField(_("dealer code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    city = models.CharField(_("city"), max_length=60, blank=True)
    brand = models.CharField(_("brand"), max_length=60, blank=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    language = models.CharField(
        _("default language"), max_length=10, default="zh-hans",
        choices=[("zh-hans", "简体中文"), ("en", "English")],
    )

    class Meta:
        verbose_name = _("dealership")
        verbose_name_plural = _("dealerships")
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="dealership_code_not_empty")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    CONSULTANT = "consultant", _("Sales consultant")
    ADVISOR = "advisor", _("Service advisor")
    MANAGER = "manager", _("Manager")
    GROUP_MANAGER = "group_manager", _("Group manager")


class User(AbstractUser):
    """A member of staff. Every user works in one store, except a group manager, who sees the group."""

    name = models.CharField(_("full name"), max_length=80, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CONSULTANT)
    dealership = models.ForeignKey(
        Dealership, verbose_name=_("dealership"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="staff",
    )
    group = models.ForeignKey(
        DealerGroup, verbose_name=_("group"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="staff",
        help_text=_("For group managers: the group whose stores they see."),
    )
    language = models.CharField(
        _("language"), max_length=10, blank=True,
        choices=[("", _("The store's default")), ("zh-hans", "简体中文"), ("en", "English")],
    )

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_valid"),
            # Store staff must belong to a store; only group managers and superusers may float.
            models.CheckConstraint(
                condition=Q(dealership__isnull=False) | Q(role=Role.GROUP_MANAGER) | Q(is_superuser=True),
                name="user_store_staff_has_dealership",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.username

    @property
    def display_name(self) -> str:
        return self.name or self.username

    @property
    def sees_all_stores(self) -> bool:
        return self.is_superuser or (self.role == Role.GROUP_MANAGER and self.group_id is None)

    @property
    def is_manager(self) -> bool:
        return self.is_superuser or self.role in (Role.MANAGER, Role.GROUP_MANAGER)


class StaleMonth(models.Model):
    """A store-month whose records changed since its KPIs were computed (for the incremental recompute)."""

    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, related_name="+")
    period = models.DateField()
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dealership", "period"], name="stale_month_unique")]


class AuditEntry(models.Model):
    """Who created, changed, deleted or exported what, when, with the old and new values. Append-only.

    References are plain ids, not foreign keys, so that deleting a store or a user never rewrites the trail
    (on PostgreSQL a trigger refuses UPDATE and DELETE on this table).
    """

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        EXPORT = "export", _("Exported")
        IMPORT = "import", _("Imported")

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_name = models.CharField(_("by"), max_length=150, blank=True)
    address = models.CharField(_("address"), max_length=64, blank=True)
    dealership_id = models.BigIntegerField(_("dealership id"), null=True, blank=True)  # see the indexes
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    model = models.CharField(_("record type"), max_length=60)
    object_id = models.CharField(_("record id"), max_length=64, blank=True)
    object_repr = models.CharField(_("record"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["model", "object_id"]),
            # The managers' page: one store's newest entries, and their count capped at ten thousand.
            models.Index(fields=["dealership_id", "at", "id"], name="auditentry_store_at"),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit trail cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail cannot be edited.")

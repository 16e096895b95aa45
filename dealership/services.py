"""Writes shared by every app: the stale-month ledger for incremental KPI recomputes, idempotent upserts."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from dealership.models import Dealership, Role, StaleMonth, User

M = TypeVar("M", bound=models.Model)
log = logging.getLogger(__name__)

# How long writes are gathered before one incremental recompute runs (the "debounce").
STALE_DEBOUNCE_SECONDS = 20
RECOMPUTE_STALE_TASK = "kpis.tasks.recompute_stale_months"


def month_of(instant: dt.datetime | dt.date, dealership: Dealership) -> dt.date:
    """The period (first day of the month) an instant falls in, in the store's own time zone."""
    if isinstance(instant, dt.datetime):
        instant = instant.astimezone(dealership.tzinfo).date()
    return instant.replace(day=1)


def kpi_months_mark_stale(
    *, dealership: Dealership, instants: Iterable[dt.datetime | dt.date | None], dispatch: bool = True
) -> None:
    """Record that the months of `instants` must be recomputed, and schedule one debounced recompute.

    Called by every service that writes a record a KPI reads. Months, not days: a period is a month.
    Later months depend on earlier ones too (12/24-month windows, cohorts), which the recompute task
    widens itself; here we only note where the change happened.
    """
    periods = {month_of(i, dealership) for i in instants if i is not None}
    if not periods:
        return
    StaleMonth.objects.bulk_create(
        [StaleMonth(dealership=dealership, period=p) for p in periods], ignore_conflicts=True
    )
    if dispatch:
        transaction.on_commit(_dispatch_stale_recompute)


def _dispatch_stale_recompute() -> None:
    # cache.add is atomic: of many writes inside the window, only the first schedules the task.
    if not cache.add("kpis:stale-dispatch", 1, timeout=STALE_DEBOUNCE_SECONDS):
        return
    from dealership.celery import app  # the task is looked up by name: kpis sits above this app

    task = app.tasks.get(RECOMPUTE_STALE_TASK)
    if task is None:
        return
    try:
        task.apply_async(countdown=STALE_DEBOUNCE_SECONDS)
    except Exception:
        # The write is committed and its months are in StaleMonth: the next dispatch or the nightly
        # recompute picks them up. A dead broker must not turn a saved record into an error page.
        log.warning("could not dispatch the stale-month recompute; it will run later", exc_info=True)


def existing_for_external_id(model: type[M], *, dealership: Dealership, external_id: str | None) -> M | None:
    """The row an `external_id` already names in this store, locked for update; None if new."""
    if not external_id:
        return None
    return model.objects.select_for_update().filter(dealership=dealership, external_id=external_id).first()


def check_same_store(dealership: Dealership, **refs: models.Model | None) -> None:
    """Every referenced record (campaign, consultant, customer...) must belong to `dealership`."""
    errors = {field: _("This belongs to another store.") for field, obj in refs.items()
              if obj is not None and getattr(obj, "dealership_id", None) != dealership.pk}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def dealership_create(**fields: Any) -> Dealership:
    store = Dealership(**fields)
    store.full_clean()
    store.save()
    return store


@transaction.atomic
def dealership_update(*, dealership: Dealership, **fields: Any) -> Dealership:
    store = Dealership.objects.select_for_update().get(pk=dealership.pk)
    for key, value in fields.items():
        setattr(store, key, value)
    store.full_clean()
    store.save()
    return store


@transaction.atomic
def staff_create(*, username: str, role: str, password: str, dealership: Dealership | None = None,
                 **fields: Any) -> User:
    user = User(username=username, role=role, dealership=dealership, **fields)
    user.set_password(password)
    _staff_check(user)
    user.save()
    return user


@transaction.atomic
def staff_update(*, user: User, password: str | None = None, **fields: Any) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    for key, value in fields.items():
        setattr(user, key, value)
    if password:
        user.set_password(password)
    _staff_check(user)
    user.save()
    return user


def _staff_check(user: User) -> None:
    user.full_clean(exclude=["password", "dealership", "group"])
    if user.dealership_id is None and user.role != Role.GROUP_MANAGER and not user.is_superuser:
        raise ValidationError({"dealership": _("Store staff must belong to a store.")})

"""Each delivery and service visit keeps its first reached callback (`first_callback_at`), which the
3-day callback rates read: the services keep it through every change of a callback, the migration's
backfill and the admin agree with them."""
from __future__ import annotations

import importlib

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory

from aftersales.models import Callback, ServiceVisit
from aftersales.services import callback_create, service_visit_create
from customers.services import customer_create
from dealership.models import StaleMonth
from sales.models import Order
from sales.services import order_create, order_deliver
from tests.kpis.conftest import local

pytestmark = pytest.mark.django_db


def _delivered(store, day: int) -> Order:
    customer = customer_create(dealership=store, created_at=local(2025, 1, 1))
    order = order_create(customer=customer, ordered_at=local(2025, 1, day))
    return order_deliver(order=order, delivered_at=local(2025, 1, day + 1))


def _first(subject) -> object:
    return type(subject).objects.values_list("first_callback_at", flat=True).get(pk=subject.pk)


def test_the_first_reached_callback_is_kept_through_later_earlier_and_unreached_calls(store):
    order = _delivered(store, 10)
    callback_create(order=order, completed_at=local(2025, 1, 12), reached=False, external_id="CB-1")
    assert _first(order) is None  # not reached: no callback yet
    callback_create(order=order, completed_at=local(2025, 1, 15), reached=True, external_id="CB-2")
    assert _first(order) == local(2025, 1, 15)
    callback_create(order=order, completed_at=local(2025, 1, 13), reached=True, external_id="CB-3")
    assert _first(order) == local(2025, 1, 13)  # an earlier call recorded later
    assert order.first_callback_at == local(2025, 1, 13)  # the caller's object too
    callback_create(order=order, completed_at=local(2025, 1, 20), reached=True, external_id="CB-4")
    assert _first(order) == local(2025, 1, 13)  # a later call changes nothing
    callback_create(order=order, completed_at=local(2025, 1, 13), reached=False, external_id="CB-3")
    assert _first(order) == local(2025, 1, 15)  # re-sent as not reached: the next one


def test_a_re_sent_callback_that_moves_to_another_subject_leaves_the_first_one_recomputed(store):
    first, second = _delivered(store, 10), _delivered(store, 20)
    callback_create(order=first, completed_at=local(2025, 1, 12), reached=True, external_id="CB-1")
    StaleMonth.objects.all().delete()
    moved = callback_create(order=second, completed_at=local(2025, 2, 22), reached=True, external_id="CB-1")
    assert (_first(first), _first(second)) == (None, local(2025, 2, 22))
    # The month of the delivery it left goes stale as well: its callback rate changed.
    assert {m.period.month for m in StaleMonth.objects.all()} >= {1, 2}
    # From a delivery to a service visit.
    customer = second.customer
    visit = service_visit_create(customer=customer, opened_at=local(2025, 3, 1), closed_at=local(2025, 3, 1, 17),
                                 external_id="RO-1")
    callback_create(service_visit=visit, completed_at=local(2025, 3, 3), reached=True, external_id=moved.external_id)
    assert (_first(second), _first(visit)) == (None, local(2025, 3, 3))


def test_the_migration_fills_the_first_callbacks_as_the_services_keep_them(store):
    backfill = importlib.import_module("aftersales.migrations.0005_servicevisit_first_callback_at").BACKFILL
    orders = [_delivered(store, day) for day in (3, 10, 17)]
    visit = service_visit_create(customer=orders[0].customer, opened_at=local(2025, 2, 1),
                                 closed_at=local(2025, 2, 1, 16))
    for subject, day, reached in [(orders[0], 5, False), (orders[0], 7, True), (orders[0], 6, True),
                                  (orders[1], 12, False), (visit, 4, True)]:
        kind = "order" if isinstance(subject, Order) else "service_visit"
        callback_create(**{kind: subject}, completed_at=local(2025, 1 if kind == "order" else 2, day), reached=reached)
    subjects = [*orders, visit]
    kept = [_first(s) for s in subjects]
    assert kept[:2] == [local(2025, 1, 6), None] and kept[3] == local(2025, 2, 4)
    Order.objects.update(first_callback_at=None)
    ServiceVisit.objects.update(first_callback_at=None)
    with connection.cursor() as cursor:
        for statement in backfill:
            cursor.execute(statement)
    assert [_first(s) for s in subjects] == kept


def test_edits_and_deletions_in_the_admin_keep_the_first_callback(store, admin_user):
    order = _delivered(store, 10)
    early = callback_create(order=order, completed_at=local(2025, 1, 12), reached=True)
    callback_create(order=order, completed_at=local(2025, 1, 14), reached=True)
    admin = site._registry[Callback]
    request = RequestFactory().post("/")
    request.user = admin_user
    early.reached = False
    admin.save_model(request, early, form=None, change=True)
    assert _first(order) == local(2025, 1, 14)
    admin.delete_queryset(request, Callback.objects.filter(order=order, reached=True))
    assert _first(order) is None

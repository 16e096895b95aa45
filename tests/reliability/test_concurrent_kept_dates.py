"""Two records of one subject written at the same moment: the dates the services keep on it are still
right (aftersales.services locks the subject before recomputing them): a delivery's first reached
callback, a customer's first and latest four service visits."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from aftersales.models import Callback, ServiceVisit
from aftersales.services import callback_create, service_visit_create
from customers.models import LAST_SERVICES, Customer
from customers.services import customer_create
from sales.models import Order
from sales.services import order_create, order_deliver

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 40
T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; set DATABASE_URL")


def _in_lockstep(write, users: list) -> list[BaseException]:
    """Each user calls write(user, i, k) ROUNDS times; a barrier releases both at once every round."""
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def work(user, k: int) -> None:
        try:
            for i in range(ROUNDS):
                barrier.wait(timeout=30)
                write(user, i, k)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread, which fails on it
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u, k)) for k, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def test_two_callbacks_recorded_at_once_keep_the_earliest_as_the_first(store, consultant, manager):
    customer = customer_create(dealership=store, name="王五", phone="13900003333", consultant=consultant)
    order = order_deliver(order=order_create(customer=customer, ordered_at=T0), delivered_at=T0)
    stale = Order.objects.get(pk=order.pk)

    # Each round both users record a call earlier than any before, so every round moves the first one.
    errors = _in_lockstep(lambda user, i, k: callback_create(
        order=stale, staff=user, reached=True, completed_at=T0 + dt.timedelta(hours=200 - 2 * i - k)),
        [consultant, manager])

    assert errors == []
    earliest = min(Callback.objects.filter(order=order).values_list("completed_at", flat=True))
    assert Callback.objects.filter(order=order).count() == 2 * ROUNDS
    assert Order.objects.values_list("first_callback_at", flat=True).get(pk=order.pk) == earliest


def test_two_service_visits_recorded_at_once_keep_the_customers_first_and_latest_four(store, advisor, manager):
    customer = customer_create(dealership=store, name="赵六", phone="13900004444")
    stale = Customer.objects.get(pk=customer.pk)

    # Each round both users record a visit earlier than any before (history from the DMS), so every round
    # moves the first visit, and no later contact locks the customer's row by the way.
    errors = _in_lockstep(lambda user, i, k: service_visit_create(
        customer=stale, advisor=advisor, by=user, opened_at=T0 - dt.timedelta(days=2 * i + k)),
        [advisor, manager])

    assert errors == []
    opened = sorted(ServiceVisit.objects.filter(customer=customer).values_list("opened_at", flat=True))
    assert len(opened) == 2 * ROUNDS
    kept = Customer.objects.values_list("first_service_at", *LAST_SERVICES).get(pk=customer.pk)
    assert list(kept) == [opened[0], *reversed(opened[-4:])]

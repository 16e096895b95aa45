"""What the database itself holds of an order and a test drive: a customer of their own store (sales 0004),
which lets the KPI engine read only the customers of the stores it computes."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, connection

from sales.models import Order, TestDrive
from tests.db import checked_now
from tests.factories import CustomerFactory, OrderFactory, TestDriveFactory

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif("connection.vendor != 'postgresql'",
                                 reason="the composite foreign keys are PostgreSQL's (sales 0004)")]

EVENTS = [(Order, OrderFactory), (TestDrive, TestDriveFactory)]


@pytest.mark.parametrize(("model", "factory"), EVENTS)
def test_an_event_of_another_stores_customer_is_refused_by_the_database(store, other_store, model, factory):
    customer = CustomerFactory(dealership=store)
    # bulk_create: no service, no Django check in the way; only the database's key stands.
    with pytest.raises(IntegrityError):
        checked_now(lambda: model.objects.bulk_create([factory.build(customer=customer, dealership=other_store)]))


@pytest.mark.parametrize(("model", "factory"), EVENTS)
def test_an_event_of_the_customers_own_store_is_accepted_by_the_database(store, model, factory):
    customer = CustomerFactory(dealership=store)
    checked_now(lambda: model.objects.bulk_create([factory.build(customer=customer, dealership=store)]))
    assert model.objects.filter(customer=customer).count() == 1

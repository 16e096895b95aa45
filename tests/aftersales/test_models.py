"""What the database itself holds of a service visit: its customer, in its own store."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, connection
from django.db.models import ProtectedError

from aftersales.models import ServiceVisit
from tests.db import checked_now
from tests.factories import CustomerFactory, ServiceVisitFactory

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'",
                                   reason="the composite foreign key is PostgreSQL's (aftersales 0004)")


def test_a_customer_with_service_visits_cannot_be_deleted(store):
    visit = ServiceVisitFactory(customer=CustomerFactory(dealership=store))
    with pytest.raises(ProtectedError):
        visit.customer.delete()


def test_a_store_with_service_visits_cannot_be_deleted(store):
    ServiceVisitFactory(customer=CustomerFactory(dealership=store))
    with pytest.raises(ProtectedError):
        store.delete()


@postgres_only
def test_a_visit_of_another_stores_customer_is_refused_by_the_database(store, other_store):
    customer = CustomerFactory(dealership=store)
    # bulk_create: no service, no Django check in the way; only the database's key stands.
    with pytest.raises(IntegrityError):
        checked_now(lambda: ServiceVisit.objects.bulk_create([ServiceVisitFactory.build(
            customer=customer, dealership=other_store)]))


@postgres_only
def test_a_visit_of_an_unknown_customer_is_refused_by_the_database(store):
    customer = CustomerFactory(dealership=store)
    visit = ServiceVisitFactory.build(customer=customer, dealership=store)
    visit.customer_id = customer.pk + 1000
    with pytest.raises(IntegrityError):
        checked_now(lambda: ServiceVisit.objects.bulk_create([visit]))


@postgres_only
def test_the_database_refuses_to_delete_a_customer_with_visits_behind_djangos_back(store):
    visit = ServiceVisitFactory(customer=CustomerFactory(dealership=store))

    def delete() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM customers_stagechange WHERE customer_id = %s", [visit.customer_id])
            cursor.execute("DELETE FROM customers_customer WHERE id = %s", [visit.customer_id])
    with pytest.raises(IntegrityError):
        checked_now(delete)


@postgres_only
def test_a_visit_of_the_customers_own_store_is_accepted_by_the_database(store):
    customer = CustomerFactory(dealership=store)
    checked_now(lambda: ServiceVisit.objects.bulk_create([ServiceVisitFactory.build(
        customer=customer, dealership=store)]))
    assert ServiceVisit.objects.filter(customer=customer).count() == 1

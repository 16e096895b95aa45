"""Each service visit keeps the instants of its customer's previous, third and fourth previous and next
visits (aftersales.models.NEIGHBOURS), which the KPI engine's customer base reads instead of a window:
every writer keeps them, and the migration's backfill gives the same."""
from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory

from aftersales.models import NEIGHBOURS, ServiceVisit
from aftersales.services import service_visit_create
from tests.factories import CustomerFactory, ServiceVisitFactory, UserFactory

pytestmark = pytest.mark.django_db

T = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


def expected(visits) -> dict[int, tuple]:
    """The neighbours computed here, in Python, from each customer's visits in opened_at order."""
    by_customer: dict[int, list] = {}
    for v in sorted(visits, key=lambda v: (v.opened_at, v.pk)):
        by_customer.setdefault(v.customer_id, []).append(v)
    out = {}
    for rows in by_customer.values():
        for i, v in enumerate(rows):
            out[v.pk] = tuple(rows[i + k].opened_at if 0 <= i + k < len(rows) else None for k in NEIGHBOURS.values())
    return out


def stored(visits) -> dict[int, tuple]:
    return {v.pk: tuple(getattr(v, name) for name in NEIGHBOURS) for v in visits}


def assert_kept(**filters) -> None:
    visits = list(ServiceVisit.objects.filter(**filters))
    assert visits, "nothing to compare"
    assert stored(visits) == expected(visits)


def test_visits_recorded_out_of_order_keep_their_neighbours():
    customer = CustomerFactory()
    # Recorded in this order, opened in another: each one changes the neighbours of several others.
    for days in [30, 0, 90, 10, 60, 10, 200, -50]:
        service_visit_create(customer=customer, opened_at=T + dt.timedelta(days=days))
    assert_kept(customer=customer)
    visits = sorted(ServiceVisit.objects.filter(customer=customer), key=lambda v: (v.opened_at, v.pk))
    fifth = visits[4]  # so that the comparison means something: all four are set on the fifth visit
    assert (fifth.prior_opened_at, fifth.prior_3_opened_at, fifth.prior_4_opened_at, fifth.next_opened_at) == (
        T + dt.timedelta(days=10), T + dt.timedelta(days=0), T + dt.timedelta(days=-50), T + dt.timedelta(days=60))


def test_a_visit_moved_in_time_and_to_another_customer_keeps_both_customers_neighbours():
    first, second = CustomerFactory(), CustomerFactory()
    store = first.dealership
    second.dealership = store
    second.save()
    for k, days in enumerate([0, 20, 40, 60]):
        service_visit_create(customer=first, opened_at=T + dt.timedelta(days=days), external_id=f"A{k}")
        service_visit_create(customer=second, opened_at=T + dt.timedelta(days=days + 5), external_id=f"B{k}")
    moved = service_visit_create(customer=second, opened_at=T + dt.timedelta(days=50), external_id="A1")
    assert_kept(dealership=store)
    assert ServiceVisit.objects.filter(customer=first).count() == 3
    moved.revenue = 10
    moved.save()  # the returned visit carries its new neighbours: saving it again keeps them
    assert_kept(dealership=store)


def test_the_factory_keeps_them_too():
    customer = CustomerFactory()
    for days in [5, 1, 3]:
        ServiceVisitFactory(customer=customer, opened_at=T + dt.timedelta(days=days))
    assert_kept(customer=customer)


def test_admin_edits_and_deletes_keep_them():
    customer = CustomerFactory()
    visits = [ServiceVisitFactory(customer=customer, opened_at=T + dt.timedelta(days=d)) for d in (1, 2, 3, 4)]
    admin = site._registry[ServiceVisit]
    request = RequestFactory().post("/")
    request.user = UserFactory(is_superuser=True, is_staff=True)
    visits[0].opened_at, visits[0].closed_at = T + dt.timedelta(days=10), None
    admin.save_model(request, visits[0], None, True)
    assert_kept(customer=customer)
    admin.delete_model(request, visits[2])
    assert_kept(customer=customer)


def test_the_migrations_backfill_gives_what_the_services_keep():
    customer, other = CustomerFactory(), CustomerFactory()
    for days in [0, 40, 10, 10, 70, 100]:
        service_visit_create(customer=customer, opened_at=T + dt.timedelta(days=days))
    service_visit_create(customer=other, opened_at=T)  # one visit: no neighbours at all
    kept = stored(ServiceVisit.objects.all())
    ServiceVisit.objects.update(**dict.fromkeys(NEIGHBOURS))
    backfill = importlib.import_module("aftersales.migrations.0006_servicevisit_neighbours").BACKFILL
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    assert stored(ServiceVisit.objects.all()) == kept
    assert any(any(n) for n in kept.values())

"""The service visits' runs kept between recomputes (kpis.visit_runs, PostgreSQL): after every kind of
change to the visits, however written, a refresh leaves exactly the counts a build from the visits gives."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import psycopg2
import pytest
from django.db import connection

from aftersales.models import ServiceVisit
from aftersales.services import service_visit_close, service_visit_create
from customers.services import customer_create
from dealership.services import dealership_update
from kpis import visit_runs
from sales.services import order_create
from tests.kpis.conftest import KeptRuns, local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgresql_only")]
RUNS = KeptRuns(visit_runs, "kpi_visit")
kept, refreshed, built, changed = RUNS.kept, RUNS.refreshed, RUNS.built, RUNS.changed


@pytest.fixture
def history(store):
    """A regular (four visits over a year), and a second customer with one re-importable visit."""
    a = customer_create(dealership=store, name="甲", stage="market", created_at=local(2023, 12, 1))
    b = customer_create(dealership=store, name="乙", stage="potential", created_at=local(2023, 12, 1))
    for at in (local(2024, 1, 5), local(2024, 3, 5), local(2024, 9, 1), local(2025, 2, 1)):
        service_visit_create(customer=a, opened_at=at)
    service_visit_create(customer=b, opened_at=local(2024, 6, 1), external_id="RO-1")
    # Ten more customers with a visit each: one or two changed customers are then few enough to be
    # refreshed one by one (kpis.kept.FEW_CHANGED), not by a build of the store.
    for i in range(10):
        other = customer_create(dealership=store, name=f"丙{i}", stage="market", created_at=local(2023, 12, 1))
        service_visit_create(customer=other, opened_at=local(2024, 1 + i, 10))
    refreshed(store)  # the first refresh builds the store
    return a, b


def test_every_change_to_the_visits_is_seen_and_refreshed_to_what_a_build_gives(store, history):
    a, b = history
    steps = {
        "a new visit": lambda: service_visit_create(customer=b, opened_at=local(2024, 12, 1)),
        "a visit re-imported into another month": lambda: service_visit_create(
            customer=b, opened_at=local(2024, 2, 29, 23, 30), external_id="RO-1"),
        "a visit re-imported for another customer": lambda: service_visit_create(
            customer=a, opened_at=local(2024, 2, 29, 23, 30), external_id="RO-1"),
        "a visit deleted (the admin, a script: no service)": lambda: (
            ServiceVisit.objects.filter(customer=a).order_by("opened_at").first().delete()),
        "a first delivery (the self-sold runs start at it)": lambda: order_create(
            customer=b, ordered_at=local(2024, 6, 20), delivered_at=local(2024, 7, 1), gross_profit=Decimal("1")),
    }
    RUNS.assert_refreshed_as_built(store, steps)


def test_a_closing_or_a_callback_date_changes_no_run_and_marks_nobody(store, history):
    a, _b = history
    visit = ServiceVisit.objects.filter(customer=a).first()
    service_visit_close(service_visit=visit, closed_at=visit.opened_at)
    ServiceVisit.objects.filter(pk=visit.pk).update(revenue=Decimal("99"))
    assert changed(store) == 0


def test_a_store_whose_time_zone_changes_is_built_again_in_its_new_months(store, history):
    a, _b = history
    # 00:30 on 1 April in Shanghai is 22:30 on 31 March in Urumqi: the visit changes month.
    service_visit_create(customer=a, opened_at=local(2024, 4, 1, 0, 30))
    before = refreshed(store)
    store = dealership_update(dealership=store, timezone="Asia/Urumqi")
    after = refreshed(store)
    assert after != before
    assert after == built(store)


def test_a_refresh_with_nothing_changed_leaves_the_counts_and_the_counts_match_the_visits(store, history):
    before = kept(store)
    assert refreshed(store) == before
    # a12: each visit adds the months from the previous visit's year's end (or its own month) to its own
    # month + 11. The regular (Jan, Mar, Sep 2024, Feb 2025): Jan–Dec 2024, Jan–Feb 2025, Mar–Aug 2025,
    # Sep 2025–Jan 2026; the second customer (Jun 2024): Jun 2024–May 2025; the ten others a year each.
    def m(y: int, mo: int) -> int:
        return y * 12 + mo - 1

    a12 = sorted((s, e, n) for _store, measure, s, e, n in before if measure == "a12")
    others = [(m(2024, 1 + i), m(2024, 1 + i) + 11) for i in range(10)]
    expected = Counter([(m(2024, 1), m(2024, 12)), (m(2025, 1), m(2025, 2)), (m(2025, 3), m(2025, 8)),
                        (m(2025, 9), m(2026, 1)), (m(2024, 6), m(2025, 5)), *others])
    assert a12 == sorted((s, e, n) for (s, e), n in expected.items())


@pytest.mark.django_db(transaction=True)
def test_a_writer_still_in_flight_during_a_refresh_leaves_its_change_for_the_next_one(store, history):
    """A visit written in a transaction that commits after a refresh has taken its customer's earlier
    change: the refresh cannot see the visit, so the change must still be there for the next one."""
    a, _b = history
    service_visit_create(customer=a, opened_at=local(2025, 6, 1))  # committed: its change is waiting
    settings = connection.settings_dict
    writer = psycopg2.connect(dbname=settings["NAME"], host=settings["HOST"], port=settings["PORT"] or 5432,
                              user=settings["USER"], password=settings["PASSWORD"])
    try:
        with writer.cursor() as cursor:  # a transaction left open: its trigger has run, nothing committed
            cursor.execute("INSERT INTO aftersales_servicevisit (vin, kind, opened_at, revenue, in_warranty,"
                           " dealership_id, customer_id) VALUES ('', 'maintenance', %s, 0, false, %s, %s)",
                           [local(2025, 9, 1), store.pk, a.pk])
        refreshed(store)
        writer.commit()
    finally:
        writer.close()
    assert changed(store) > 0
    assert refreshed(store) == built(store)

"""The two ways of computing the state KPIs (stage at E, customer base and its windows) give the same rows.

A full recompute replays every customer's history as runs of months (PostgreSQL keeps them); the
recompute of a few months (`engine.Scope.narrow`, the incremental case) reads each month's end directly
on SQLite, and on PostgreSQL the kept runs it refreshes itself and its base from the customers' (store,
base date) index. Both are checked here on
the demo history (lost deals, comebacks, repeat buyers, service customers from elsewhere) and on the
golden scenario, month by month.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import Max, Min

from aftersales.services import service_visit_create
from customers.models import LAST_SERVICES, Customer
from customers.services import customer_create, customer_mark_lost, customer_reactivate
from dealership.models import Dealership
from kpis import engine, services
from kpis.models import KpiValue
from sales.services import order_create, order_deliver
from tests.golden.loader import expected, load_scenario
from tests.kpis.conftest import local

pytestmark = pytest.mark.django_db


def _rows(store: Dealership, periods: list[dt.date]) -> dict:
    return {(v.period, v.code, v.person_id): (v.value, v.numerator, v.denominator)
            for v in KpiValue.objects.filter(dealership=store, period__in=periods)}


def _each_month_alone_equals_the_full_run(store: Dealership, periods: list[dt.date]) -> int:
    full = _rows(store, periods)
    assert full, "the full run wrote nothing to compare"
    checked = 0
    for period in periods:
        services.recompute(dealership_ids=[store.pk], periods=[period])
        alone = _rows(store, [period])
        mine = {k: v for k, v in full.items() if k[0] == period}
        differing = {k: (mine.get(k), alone.get(k)) for k in mine.keys() | alone.keys() if mine.get(k) != alone.get(k)}
        assert differing == {}, f"{store.code} {period:%Y-%m}: full run vs that month alone"
        checked += len(mine)
    return checked


def test_the_narrow_path_is_what_the_full_recompute_says_on_the_demo_history():
    call_command("load_demo", "--months", "15", "--size", "0.04", "--seed", "7", stdout=open("/dev/null", "w"))
    assert engine.NARROW_MONTHS >= 1
    services.recompute()
    store = Dealership.objects.order_by("pk").first()
    periods = sorted(set(KpiValue.objects.filter(dealership=store).values_list("period", flat=True)))
    # The first months (a base still forming), one in the middle, and the last ones (the incremental case).
    sample = sorted(set(periods[:2] + periods[len(periods) // 2: len(periods) // 2 + 1] + periods[-3:]))
    assert _each_month_alone_equals_the_full_run(store, sample) > 100
    # The last NARROW_MONTHS together (what a stale recompute of a recent change asks for) as well.
    last = periods[-engine.NARROW_MONTHS:]
    full = _rows(store, last)
    services.recompute(dealership_ids=[store.pk], periods=last)
    assert _rows(store, last) == full


def test_the_narrow_path_is_what_the_full_recompute_says_on_the_golden_history():
    load_scenario()
    periods = [dt.date.fromisoformat(f"{p}-01") for p in expected()["periods_checked"]]
    services.recompute(periods=periods)
    for store in Dealership.objects.order_by("code"):
        _each_month_alone_equals_the_full_run(store, periods)


def _firsts(customer) -> tuple:
    customer.refresh_from_db(fields=["first_delivered_at", "first_service_at"])
    return customer.first_delivered_at, customer.first_service_at


def test_the_services_keep_each_customers_first_delivery_and_service_visit(store):
    ann = customer_create(dealership=store, created_at=local(2024, 1, 1))
    bob = customer_create(dealership=store, created_at=local(2024, 1, 1))
    assert _firsts(ann) == (None, None)
    order = order_create(customer=ann, ordered_at=local(2024, 2, 1), delivered_at=local(2024, 2, 10))
    service_visit_create(customer=ann, opened_at=local(2024, 6, 1), external_id="RO-1")
    service_visit_create(customer=ann, opened_at=local(2024, 4, 1), external_id="RO-2")
    assert _firsts(ann) == (local(2024, 2, 10), local(2024, 4, 1))
    # A delivery moved later, a re-sent repair order moved later and then to another customer.
    order_deliver(order=order, delivered_at=local(2024, 2, 20))
    service_visit_create(customer=ann, opened_at=local(2024, 7, 1), external_id="RO-2")
    assert _firsts(ann) == (local(2024, 2, 20), local(2024, 6, 1))
    service_visit_create(customer=bob, opened_at=local(2024, 7, 1), external_id="RO-1")
    assert _firsts(ann) == (local(2024, 2, 20), local(2024, 7, 1))
    assert _firsts(bob) == (None, local(2024, 7, 1))


def _latest(customer) -> list:
    customer.refresh_from_db(fields=LAST_SERVICES)
    return [getattr(customer, column) for column in LAST_SERVICES]


def test_the_services_keep_each_customers_latest_four_service_visits(store):
    ann = customer_create(dealership=store, created_at=local(2024, 1, 1))
    bob = customer_create(dealership=store, created_at=local(2024, 1, 1))
    assert _latest(ann) == [None] * 4
    for i, month in enumerate([3, 1, 5, 2, 4], 1):  # out of order, as an import of history may send them
        service_visit_create(customer=ann, opened_at=local(2024, month, 1), external_id=f"RO-{i}")
    assert _latest(ann) == [local(2024, m, 1) for m in (5, 4, 3, 2)]
    # Two visits at one instant are two visits; a re-sent repair order moves, then goes to another customer.
    service_visit_create(customer=ann, opened_at=local(2024, 4, 1), external_id="RO-6")
    assert _latest(ann) == [local(2024, m, 1) for m in (5, 4, 4, 3)]
    service_visit_create(customer=ann, opened_at=local(2023, 12, 1), external_id="RO-3")  # was May
    assert _latest(ann) == [local(2024, m, 1) for m in (4, 4, 3, 2)]
    service_visit_create(customer=bob, opened_at=local(2024, 6, 1), external_id="RO-3")
    assert _latest(ann) == [local(2024, m, 1) for m in (4, 4, 3, 2)]
    assert _latest(bob) == [local(2024, 6, 1), None, None, None]


def test_the_migration_fills_the_latest_four_as_the_services_keep_them(store):
    import importlib

    from django.db import connection

    backfill = importlib.import_module("customers.migrations.0009_customer_last_services").BACKFILL
    ann = customer_create(dealership=store, created_at=local(2024, 1, 1))
    bob = customer_create(dealership=store, created_at=local(2024, 1, 1))
    customer_create(dealership=store, created_at=local(2024, 1, 1))  # no visit: stays empty
    for i, (who, month) in enumerate([(ann, 3), (ann, 1), (ann, 5), (ann, 2), (ann, 4), (bob, 6), (bob, 6)]):
        service_visit_create(customer=who, opened_at=local(2024, month, 1), external_id=f"RO-{i}")
    kept = {c.pk: _latest(c) for c in Customer.objects.all()}
    Customer.objects.update(**{column: None for column in LAST_SERVICES})
    with connection.cursor() as cursor:
        for statement in backfill:
            cursor.execute(statement)
    assert {c.pk: _latest(c) for c in Customer.objects.all()} == kept
    assert kept[bob.pk] == [local(2024, 6, 1)] * 2 + [None, None]


def test_the_narrow_path_reads_frequent_and_returning_customers_as_the_full_recompute_does(store):
    """Visit patterns for every branch of the narrow path's customer base: the latest visit before e12
    found as the latest, 2nd, 3rd or 4th of the kept four, or looked up (four in the last 12 months);
    two visits in one month; and customers with visits after the month (read from their visits)."""
    patterns = {
        "one": [(2024, 1)],
        "yearly": [(2023, 2), (2024, 2), (2025, 2)],
        "two-a-year": [(2023, 1), (2023, 7), (2024, 1), (2024, 7), (2025, 1)],
        "quarterly": [(2023, m) for m in (1, 4, 7, 10)] + [(2024, m) for m in (1, 4, 7, 10)] + [(2025, 1)],
        "monthly": [(2023, m) for m in range(3, 13)] + [(2024, m) for m in range(1, 13)],
        "same-month": [(2023, 5), (2023, 5), (2024, 5), (2024, 5), (2024, 6)],
        "gap": [(2023, 1), (2023, 2), (2023, 3), (2023, 4), (2025, 3)],
    }
    for name, months in patterns.items():
        customer = customer_create(dealership=store, name=name, created_at=local(2022, 12, 1))
        if name in ("yearly", "quarterly"):
            order_create(customer=customer, ordered_at=local(2022, 12, 5), delivered_at=local(2022, 12, 20))
        for i, (year, month) in enumerate(months):
            service_visit_create(customer=customer, opened_at=local(year, month, 10 + i % 3))
    periods = [dt.date(2023, 1, 1) + dt.timedelta(days=31 * k) for k in range(30)]
    periods = sorted({p.replace(day=1) for p in periods})
    services.recompute(dealership_ids=[store.pk])
    churn = KpiValue.objects.filter(dealership=store, code="churn_rate", person=None).exclude(value=None)
    frequent = KpiValue.objects.filter(dealership=store, code="frequent_customers", person=None, value__gt=0)
    assert churn.exists() and frequent.exists(), "the patterns should give churn and frequent customers"
    assert _each_month_alone_equals_the_full_run(store, periods) > 100


def test_the_demo_writer_fills_the_kept_dates_as_the_records_say():
    call_command("load_demo", "--months", "6", "--size", "0.03", "--seed", "3", stdout=open("/dev/null", "w"))
    got = {c.pk: (c.first_delivered_at, c.first_service_at, c.stage_changed_at) for c in Customer.objects.all()}
    want = {c.pk: (c.d, c.s, c.changed) for c in Customer.objects.annotate(
        d=Min("orders__delivered_at"), s=Min("service_visits__opened_at"), changed=Max("stage_changes__at"))}
    assert any(s for _d, s, _c in got.values()) and got == want
    for customer in Customer.objects.filter(service_visits__isnull=False).distinct()[:50]:
        visits = list(customer.service_visits.order_by("-opened_at").values_list("opened_at", flat=True)[:4])
        assert _latest(customer) == visits + [None] * (4 - len(visits))


def test_the_services_keep_the_latest_change_even_when_an_event_is_back_dated(store):
    lead = customer_create(dealership=store, created_at=local(2024, 3, 1))
    assert _changed(lead) == local(2024, 3, 1)
    order_create(customer=lead, ordered_at=local(2024, 5, 1))
    assert _changed(lead) == local(2024, 5, 1)
    service_visit_create(customer=lead, opened_at=local(2024, 4, 1), in_warranty=True)  # entered before
    assert _changed(lead) == local(2024, 5, 1)
    other = customer_create(dealership=store, created_at=local(2024, 3, 1))
    customer_mark_lost(customer=other, reason="买了别家", at=local(2024, 6, 2))
    customer_reactivate(customer=other, at=local(2024, 7, 3))
    assert _changed(other) == local(2024, 7, 3)


def _changed(customer):
    customer.refresh_from_db(fields=["stage_changed_at"])
    return customer.stage_changed_at


def test_a_month_alone_after_a_change_counts_it_as_the_full_recompute_does(store):
    """The incremental case: a change written after a full recompute (a visit, a customer new to the
    base, a lost lead) is in the month's figures when that month alone is recomputed (on PostgreSQL the
    recompute brings the kept runs up to date itself), exactly as a full recompute then counts it."""
    ann, bob, carol = (customer_create(dealership=store, name=n, created_at=local(2024, 1, 1)) for n in "abc")
    service_visit_create(customer=ann, opened_at=local(2024, 2, 10))
    services.recompute(dealership_ids=[store.pk])
    march = dt.date(2025, 3, 1)
    before = _rows(store, [march])
    service_visit_create(customer=ann, opened_at=local(2025, 3, 5))  # active again in 12 months
    service_visit_create(customer=bob, opened_at=local(2025, 3, 6))  # new to the base
    customer_mark_lost(customer=carol, reason="买了别家", at=local(2025, 3, 10))
    services.recompute(dealership_ids=[store.pk], periods=[march])
    alone = _rows(store, [march])
    moved = {code for (_p, code, person), v in alone.items() if person is None and before.get((march, code, None)) != v}
    assert {"active_12m", "customer_base", "new_customers", "stage_market"} <= moved, moved
    services.recompute(dealership_ids=[store.pk])
    assert _rows(store, [march]) == alone

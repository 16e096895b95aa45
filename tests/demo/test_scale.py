"""The benchmark generator: the sizes asked for, and records that keep the lifecycle's invariants."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Min, Q

from aftersales.models import Callback, ServiceVisit
from customers.models import STAGE_ORDER, Customer, StageChange
from dealership.demo import scale
from dealership.models import Dealership
from sales import models as sales

NOW = dt.datetime(2026, 3, 18, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def generated(db):
    return scale.generate(stores=2, months=12, customers_per_store=600, seed=3, password="Huitong-4S-2026", now=NOW)


def test_the_scale_mode_writes_the_asked_number_of_stores_and_customers(generated):
    assert Dealership.objects.filter(code__startswith="BM").count() == 2
    assert Customer.objects.count() == generated.counts["customers"] == 1200
    for model, table in [(StageChange, "stage_changes"), (sales.Visit, "visits"), (sales.TestDrive, "test_drives"),
                         (sales.Order, "orders"), (ServiceVisit, "service_visits"), (Callback, "callbacks")]:
        assert model.objects.count() == generated.counts[table] > 0, table


def test_service_visits_outnumber_customers_as_in_the_spec(generated):
    # 10 M service visits for 2 M customers over 36 months: a year gives well over one a customer.
    assert ServiceVisit.objects.count() > 1.2 * Customer.objects.count()


def test_every_customer_stage_is_the_latest_stage_he_entered(generated):
    for customer in Customer.objects.all():
        entered = [s for s in STAGE_ORDER if getattr(customer, f"entered_{s}_at") is not None]
        assert customer.stage == entered[-1]
        times = [getattr(customer, f"entered_{s}_at") for s in entered]
        assert times == sorted(times), "entered_<stage>_at never goes back in time along the stages"
        assert entered == STAGE_ORDER[: len(entered)], "no stage is skipped without a passage"


def test_every_stage_entered_has_its_history_row_at_the_same_instant(generated):
    moves = {(c.customer_id, c.to_stage): c.at for c in StageChange.objects.filter(kind="move")}
    for customer in Customer.objects.all():
        for s in STAGE_ORDER:
            at = getattr(customer, f"entered_{s}_at")
            assert moves.get((customer.pk, s)) == at


def test_only_customers_before_the_purchase_are_lost_and_they_have_a_lost_row(generated):
    lost = Customer.objects.filter(is_lost=True)
    assert lost.exists()
    assert not lost.filter(stage__in=["real", "lifetime", "loyal"]).exists()
    assert StageChange.objects.filter(kind="lost").count() == lost.count()


def test_service_moves_only_buyers_and_only_after_they_bought(generated):
    # A car bought elsewhere stays where it is in the funnel (domain.md).
    outsiders = Customer.objects.filter(source="other")
    assert ServiceVisit.objects.filter(customer__in=outsiders).exists()
    assert not outsiders.exclude(stage="market").exists()
    first_order = Customer.objects.annotate(first=Min("orders__ordered_at")).filter(entered_lifetime_at__isnull=False)
    assert not first_order.filter(entered_lifetime_at__lt=F("first")).exists()


def test_callbacks_have_exactly_one_subject_and_deliveries_follow_orders(generated):
    assert not Callback.objects.filter(Q(order__isnull=True, service_visit__isnull=True)
                                       | Q(order__isnull=False, service_visit__isnull=False)).exists()
    assert Callback.objects.filter(order__isnull=False).exists()
    assert Callback.objects.filter(service_visit__isnull=False).exists()
    assert not sales.Order.objects.filter(delivered_at__lt=F("ordered_at")).exists()


def test_load_demo_scale_refuses_to_write_the_benchmark_stores_twice(generated):
    with pytest.raises(ValueError, match="already exist"):
        scale.generate(stores=1, months=2, customers_per_store=10, password="Huitong-4S-2026", now=NOW)


@pytest.mark.django_db
def test_the_command_line_of_the_scale_mode(capsys):
    call_command("load_demo", "--scale", "--stores", "1", "--months", "3", "--customers-per-store", "200")
    assert Customer.objects.filter(dealership__code="BM001").count() == 200
    assert "done:" in capsys.readouterr().out
    assert sales.Visit.objects.values("dealership").annotate(n=Count("id")).count() == 1

"""The customers' stage runs kept between recomputes (kpis.stage_runs, PostgreSQL): after every kind of
change to a customer's history or state, however written, a refresh leaves exactly the counts a build
from the histories gives."""
from __future__ import annotations

from collections import Counter

import pytest

from customers.models import Customer, StageChange
from customers.services import (customer_create, customer_mark_lost, customer_move_stage, customer_reactivate,
                                customer_update)
from dealership.services import dealership_update
from kpis import stage_runs
from tests.kpis.conftest import KeptRuns, local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgresql_only")]
RUNS = KeptRuns(stage_runs, "kpi_stage")
kept, refreshed, built, changed = RUNS.kept, RUNS.refreshed, RUNS.built, RUNS.changed


@pytest.fixture
def people(store, consultant):
    """A lead moved to target in March 2024, and ten market customers (so that one or two changed ones are
    refreshed one by one, not by a build: kpis.kept)."""
    lead = customer_create(dealership=store, name="甲", stage="potential", consultant=consultant,
                           created_at=local(2024, 1, 10))
    customer_move_stage(customer=lead, stage="target", at=local(2024, 3, 31, 23, 30))
    for i in range(10):
        customer_create(dealership=store, name=f"丙{i}", stage="market", created_at=local(2024, 1 + i, 5))
    refreshed(store)
    return lead


def test_every_change_to_a_history_or_a_state_is_seen_and_refreshed_to_what_a_build_gives(
        store, people, other_consultant):
    lead = people
    steps = {
        "a move": lambda: customer_move_stage(customer=lead, stage="real", at=local(2024, 6, 1)),
        "a new customer": lambda: customer_create(dealership=store, name="戊", stage="target",
                                                  created_at=local(2024, 2, 1)),
        "a loss": lambda: customer_mark_lost(customer=Customer.objects.get(name="戊"), reason="价格",
                                             at=local(2024, 4, 2)),
        "a reactivation": lambda: customer_reactivate(
            customer=Customer.objects.get(name="戊"), at=local(2024, 8, 2)),
        "another consultant": lambda: customer_update(customer=lead, consultant=other_consultant),
        "a history row back-dated by a script": lambda: StageChange.objects.filter(
            customer=lead, to_stage="target").update(at=local(2024, 2, 1)),
        "a history row deleted": lambda: StageChange.objects.filter(customer=lead, to_stage="real").delete(),
        "a customer deleted": lambda: Customer.objects.get(name="戊").delete(),
    }
    RUNS.assert_refreshed_as_built(store, steps)


def test_a_store_whose_time_zone_changes_is_built_again_in_its_new_months(store, people):
    # 00:30 on 1 May in Shanghai is 22:30 on 30 April in Urumqi: the move changes month.
    customer_move_stage(customer=people, stage="real", at=local(2024, 5, 1, 0, 30))
    before = refreshed(store)
    store = dealership_update(dealership=store, timezone="Asia/Urumqi")
    after = refreshed(store)
    assert after != before
    assert after == built(store)


def test_the_kept_counts_are_the_stages_month_by_month(store, people, consultant):
    def m(y: int, mo: int) -> int:
        return y * 12 + mo - 1

    runs = Counter()
    for _store, person, stage, s, nm, n in kept(store):
        runs[(person, stage, s, nm)] += n
    # The lead: potential from January 2024 to the month before March's move, target from March on (open).
    assert runs[(consultant.pk, "potential", m(2024, 1), m(2024, 3))] == 1
    assert runs[(consultant.pk, "target", m(2024, 3), None)] == 1
    # The ten market customers, each from his own month on, without a consultant.
    assert sum(n for (person, stage, _s, _nm), n in runs.items() if stage == "market" and person is None) == 10

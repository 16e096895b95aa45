"""The simulated store looks like the spec's typical store (shared/spec/demo-data.md), within tolerances."""
from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict

import pytest

from dealership.demo.history import DEMO_STORES, simulate

NOW = dt.datetime(2026, 3, 18, 7, 0, tzinfo=dt.UTC)
MONTHS = 24
BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def store():
    """The 杭州 store (size 1.0, the spec's typical store) over two years; the events of the window."""
    history = simulate(seed=1, months=MONTHS, now=NOW, stores=[DEMO_STORES[0]])
    start = dt.datetime.combine(history.start, dt.time(), BEIJING)
    return history, [e for e in history.events if e.at >= start]


def of(events, kind):
    return [e for e in events if e.kind == kind]


def test_a_store_takes_about_84_orders_a_month(store):
    _, events = store
    assert 84 * 0.8 <= len(of(events, "order")) / MONTHS <= 84 * 1.2


def test_about_40_percent_of_showroom_parties_take_a_test_drive(store):
    _, events = store
    showroom = [e for e in of(events, "visit") if e.data["kind"] == "showroom"]
    assert 530 * 0.8 <= len(showroom) / MONTHS <= 530 * 1.2
    assert 0.32 <= len(of(events, "test_drive")) / len(showroom) <= 0.48


def test_consultants_are_spread_not_average(store):
    _, events = store
    units = sorted(n / MONTHS for n in Counter(e.data["consultant"] for e in of(events, "order")).values())
    assert 6 <= statistics.mean(units) <= 10
    assert units[-1] >= 3 * units[0], f"best {units[-1]:.1f} vs weakest {units[0]:.1f} a month"


def test_december_sells_far_more_than_february(store):
    _, events = store
    by_month = Counter(e.at.astimezone(BEIJING).month for e in of(events, "order"))
    assert by_month[12] >= 1.4 * by_month[2]


def test_orders_lose_money_up_front_and_earn_it_back_with_the_rebate(store):
    _, events = store
    orders = of(events, "order")
    assert 130_000 <= statistics.mean(float(e.data["price"]) for e in orders) <= 170_000
    margin = statistics.mean(float(e.data["gross_profit"] / e.data["price"]) for e in orders)
    rebate = statistics.mean(float(e.data["oem_rebate"] / e.data["price"]) for e in orders)
    assert -0.06 <= margin <= -0.02 and 0.045 <= rebate <= 0.065 and margin + rebate > 0


def test_most_deliveries_come_within_a_week_and_all_within_30_days(store):
    history, _ = store
    ordered = {e.key: e.at for e in of(history.events, "order")}
    delays = [(e.at - ordered[e.key]).days for e in of(history.events, "deliver")]
    assert sum(d <= 7 for d in delays) / len(delays) >= 0.7
    assert max(delays) <= 30


def test_almost_every_delivery_gets_its_callback_and_a_few_are_unreachable(store):
    _, events = store
    delivered = {e.key for e in of(events, "deliver")}
    calls = [e for e in of(events, "callback") if e.data["order"] in delivered]
    done = len(calls) / len(delivered)
    unreachable = 1 - sum(e.data["reached"] for e in calls) / len(calls)
    assert 0.95 <= done <= 1.0
    assert 0.04 <= unreachable <= 0.12


def test_the_workshop_sees_hundreds_of_repair_orders_a_month_mostly_maintenance(store):
    _, events = store
    visits = of(events, "service")
    assert 650 <= len(visits) / MONTHS <= 1050
    kinds = Counter(e.data["kind"] for e in visits)
    assert 0.5 <= kinds["maintenance"] / len(visits) <= 0.7
    assert 900 <= statistics.mean(float(e.data["revenue"]) for e in visits) <= 1_400


def test_nine_in_ten_buyers_come_to_the_first_service_and_a_third_churn_each_year(store):
    history, _ = store
    visits = defaultdict(list)
    for e in of(history.events, "service"):
        visits[e.customer].append(e.at)
    year = dt.timedelta(days=365)
    # Buyers of the history's first year (the owners imported from before it have older records cut).
    start = dt.datetime.combine(history.start, dt.time(), BEIJING)
    buyers = [e.customer for e in of(history.events, "deliver") if start <= e.at < NOW - year]
    assert 0.85 <= sum(1 for c in buyers if visits.get(c)) / len(buyers) <= 0.95
    before = {c for c, ts in visits.items() if any(NOW - 2 * year <= t < NOW - year for t in ts)}
    churned = {c for c in before if not any(t >= NOW - year for t in visits[c])}
    assert 0.25 <= len(churned) / len(before) <= 0.45


def test_there_are_lost_deals_with_reasons_referrals_and_comebacks(store):
    history, events = store
    assert all(e.data["reason"] for e in of(events, "lost"))
    assert len({e.data["reason"] for e in of(events, "lost")}) >= 5
    assert sum(1 for c in history.customers if c.referred_by) > 100
    assert of(events, "reactivate")


def test_marketing_spends_about_1_35_million_a_year_across_five_channels(store):
    history, _ = store
    spend = sum(float(a) for c in history.campaigns for day, a, _cat in c.costs if day >= history.start) / 2
    assert 1_100_000 <= spend <= 1_700_000
    assert {c.channel for c in history.campaigns} == {"online_ads", "social", "kol", "offline_ads", "event"}

"""Small hand-computed histories, one per KPI family: the engine against arithmetic done by hand."""
from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from aftersales.services import callback_create, service_visit_create
from campaigns.services import campaign_cost_create, traffic_plan_set
from customers.services import customer_create, customer_mark_lost, customer_reactivate
from kpis import engine
from kpis.models import CampaignMetric, ChannelValue, KpiValue
from kpis.registry import BY_PERSON_CODES, KPIS
from sales.services import order_create, test_drive_create, visit_create
from tests.factories import CampaignFactory, DealershipFactory
from tests.kpis.conftest import local, month

pytestmark = pytest.mark.django_db


def _buyer(store, consultant=None, *, ordered, delivered=None, profit="0", rebate="0", **kw):
    customer = customer_create(dealership=store, consultant=consultant, stage="potential", created_at=ordered, **kw)
    return order_create(customer=customer, ordered_at=ordered, delivered_at=delivered, consultant=consultant,
                        gross_profit=Decimal(profit), oem_rebate=Decimal(rebate))


# --- zero denominators -----------------------------------------------------------------------------------

def test_a_month_without_records_has_every_kpi_with_rates_null_and_counts_zero(store, kpis):
    kpis.recompute(store, month(2025, 3))
    rows = {v.code: v for v in KpiValue.objects.filter(dealership=store, person=None)}
    assert set(rows) == set(KPIS)
    for code in ("callback_3d_sales", "callback_3d_service", "close_rate", "traffic_achievement",
                 "cost_per_visitor", "test_drive_rate", "churn_rate", "capture_rate", "referral_rate"):
        assert rows[code].value is None, code
    assert rows["callback_3d_sales"].denominator == 0
    assert rows["traffic"].value == 0
    assert rows["orders"].value == 0


def test_a_traffic_plan_of_zero_gives_no_achievement_but_keeps_the_numbers(store, kpis):
    traffic_plan_set(dealership=store, period=month(2025, 3), planned_traffic=0)
    visit_create(dealership=store, kind="showroom", occurred_at=local(2025, 3, 5))
    kpis.recompute(store, month(2025, 3))
    row = kpis.row(store, 2025, 3, "traffic_achievement")
    assert (row.value, row.numerator, row.denominator) == (None, 1, 0)


# --- time zones ------------------------------------------------------------------------------------------

def test_month_ends_are_the_stores_own_midnight(store, kpis):
    # 23:30 on 31 March in Shanghai is 15:30 UTC: March. 00:30 on 1 April is still 31 March in UTC: April.
    visit_create(dealership=store, kind="showroom", occurred_at=local(2025, 3, 31, 23, 30))
    visit_create(dealership=store, kind="showroom", occurred_at=local(2025, 4, 1, 0, 30))
    kpis.recompute(store, month(2025, 3), month(2025, 4))
    assert kpis.row(store, 2025, 3, "traffic").value == 1
    assert kpis.row(store, 2025, 4, "traffic").value == 1


def test_two_stores_in_different_zones_cut_their_months_at_their_own_midnights(kpis):
    shanghai = DealershipFactory(timezone="Asia/Shanghai")
    london = DealershipFactory(timezone="Europe/London")
    instant = dt.datetime(2025, 3, 31, 20, 0, tzinfo=dt.UTC)  # 1 April 04:00 in Shanghai, 21:00 in London
    for s in (shanghai, london):
        visit_create(dealership=s, kind="phone_in", occurred_at=instant)
    from kpis import services
    services.recompute(dealership_ids=[shanghai.pk, london.pk], periods=[month(2025, 3), month(2025, 4)])
    assert kpis.row(shanghai, 2025, 4, "traffic").value == 1
    assert kpis.row(london, 2025, 3, "traffic").value == 1
    assert kpis.row(london, 2025, 4, "traffic").value == 0


# --- follow-up -------------------------------------------------------------------------------------------

def test_a_reached_callback_on_day_three_counts_on_day_four_not_and_unreached_never(store, consultant, kpis):
    delivered = local(2025, 3, 10, 23, 0)
    day3, day4 = _buyer(store, consultant, ordered=local(2025, 3, 1), delivered=delivered), None
    day4 = _buyer(store, consultant, ordered=local(2025, 3, 1), delivered=delivered)
    unreached = _buyer(store, consultant, ordered=local(2025, 3, 1), delivered=delivered)
    callback_create(order=day3, completed_at=local(2025, 3, 13, 23, 59), reached=True)
    callback_create(order=day4, completed_at=local(2025, 3, 14, 0, 1), reached=True)
    callback_create(order=unreached, completed_at=local(2025, 3, 11), reached=False)
    kpis.recompute(store, month(2025, 3))
    row = kpis.row(store, 2025, 3, "callback_3d_sales")
    assert (row.numerator, row.denominator) == (1, 3)
    assert kpis.row(store, 2025, 3, "callback_3d_sales", person=consultant).value == pytest.approx(1 / 3)


def test_the_3_day_boundary_follows_a_daylight_saving_change_in_the_stores_zone(kpis):
    # London moves to BST on 30 March 2025: 00:30 local on 31 March is 23:30 UTC on the 30th, so a UTC
    # (or fixed-offset) day would wrongly put that callback on day 3 after a delivery on the 27th.
    london = zoneinfo.ZoneInfo("Europe/London")
    store = DealershipFactory(timezone="Europe/London")
    delivered = local(2025, 3, 27, 12, 0, tz=london)
    day3 = _buyer(store, ordered=local(2025, 3, 20, tz=london), delivered=delivered)
    day4 = _buyer(store, ordered=local(2025, 3, 20, tz=london), delivered=delivered)
    callback_create(order=day3, completed_at=local(2025, 3, 30, 23, 30, tz=london), reached=True)
    callback_create(order=day4, completed_at=local(2025, 3, 31, 0, 30, tz=london), reached=True)
    kpis.recompute(store, month(2025, 3))
    row = kpis.row(store, 2025, 3, "callback_3d_sales")
    assert (row.numerator, row.denominator) == (1, 2)


def test_a_zone_keeps_a_fixed_offset_only_without_daylight_saving_time():
    first, last = dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert engine._fixed_offset(zoneinfo.ZoneInfo("Asia/Shanghai"), first, last) == 8 * 3600
    assert engine._fixed_offset(zoneinfo.ZoneInfo("Europe/London"), first, last) is None


def test_the_service_callback_counts_from_the_closing_date(store, advisor, kpis):
    customer = customer_create(dealership=store, created_at=local(2025, 1, 1))
    visit = service_visit_create(customer=customer, advisor=advisor, opened_at=local(2025, 2, 27),
                                 closed_at=local(2025, 3, 2), revenue=Decimal("800"))
    callback_create(service_visit=visit, completed_at=local(2025, 3, 5, 18), reached=True)
    kpis.recompute(store, month(2025, 3))
    assert kpis.row(store, 2025, 3, "callback_3d_service").value == 1
    assert kpis.row(store, 2025, 3, "aftersales_revenue").value == 800
    assert kpis.row(store, 2025, 3, "aftersales_revenue", person=advisor).value == 800


# --- customer base: 12- and 24-month windows --------------------------------------------------------------

def _serviced(store, *opened: dt.datetime, created=None):
    customer = customer_create(dealership=store, created_at=created or opened[0])
    for at in opened:
        service_visit_create(customer=customer, opened_at=at, closed_at=at)
    return customer


def test_the_12_and_24_month_windows_are_half_open_at_e(store, kpis):
    # E of March 2025 = 1 April 2025 00:00 local; 12 months before E = 1 April 2024 00:00.
    _serviced(store, local(2024, 4, 1, 0, 0))     # first instant of the window: in 12 and 24
    _serviced(store, local(2024, 3, 31, 23, 59))  # one minute earlier: only in the 24-month window
    _serviced(store, local(2023, 4, 1, 0, 0))     # first instant of the 24-month window
    _serviced(store, local(2023, 3, 31, 23, 59))  # outside both: lapsed
    _serviced(store, local(2025, 4, 1, 0, 0))     # after E: not yet a customer at all
    kpis.recompute(store, month(2025, 3))
    value = lambda code: kpis.row(store, 2025, 3, code).value  # noqa: E731
    assert value("active_12m") == 1
    assert value("active_24m") == 3
    assert value("customer_base") == 4
    assert value("lapsed_12m") == 3
    # Serviced in [E−24, E−12): the 2nd and 3rd; neither came back in the last 12 months.
    row = kpis.row(store, 2025, 3, "churn_rate")
    assert (row.numerator, row.denominator, row.value) == (2, 2, 1.0)


def test_frequent_and_occasional_customers_count_visits_in_the_last_12_months(store, kpis):
    _serviced(store, *[local(2024, m, 5) for m in (5, 8, 11)], local(2025, 2, 5))  # 4 in 12 months
    _serviced(store, local(2024, 3, 5), local(2024, 6, 5), local(2024, 9, 5), local(2025, 1, 5))  # 3 in window
    _serviced(store, local(2023, 6, 5), local(2025, 3, 20))  # exactly one in the window
    kpis.recompute(store, month(2025, 3), month(2025, 6))
    assert kpis.row(store, 2025, 3, "frequent_customers").value == 1
    assert kpis.row(store, 2025, 3, "occasional_customers").value == 1
    # By June 2025 the first customer's May 2024 visit has left the window: 3 visits, not frequent.
    assert kpis.row(store, 2025, 6, "frequent_customers").value == 0


def test_new_customers_and_self_sold_count_buyers_and_first_time_service(store, kpis):
    buyer = _buyer(store, ordered=local(2025, 3, 1), delivered=local(2025, 3, 3)).customer
    service_visit_create(customer=buyer, opened_at=local(2025, 3, 20), closed_at=local(2025, 3, 20))
    _serviced(store, local(2025, 3, 4))  # bought elsewhere, first service here
    _buyer(store, ordered=local(2025, 3, 5))  # ordered, not delivered: not in the base yet
    kpis.recompute(store, month(2025, 3))
    assert kpis.row(store, 2025, 3, "new_customers").value == 2
    assert kpis.row(store, 2025, 3, "active_self_sold_12m").value == 1
    assert kpis.row(store, 2025, 3, "active_12m").value == 2


def test_self_sold_counts_from_the_delivery_and_lapsed_from_a_year_after_the_base_date(store, kpis):
    """On both paths: the full recompute's runs of months (more than NARROW_MONTHS) and each month alone."""
    serviced_first = _serviced(store, local(2024, 1, 10), local(2024, 6, 10))  # serviced here, then buys here
    order_create(customer=serviced_first, ordered_at=local(2024, 9, 1), delivered_at=local(2024, 9, 5))
    _buyer(store, ordered=local(2024, 3, 1), delivered=local(2024, 3, 5))  # bought, never serviced
    _serviced(store, local(2024, 2, 10), local(2025, 1, 10))  # back within a year: never lapsed
    expected = {  # month: (active_self_sold_12m, lapsed_12m)
        (2024, 8): (0, 0), (2024, 9): (1, 0), (2024, 12): (1, 0), (2025, 2): (1, 0),
        (2025, 3): (1, 1),  # the buyer's base date (March 2024) is 12 months back
        (2025, 5): (1, 1), (2025, 6): (0, 2),  # June 2024's visit has left the window
    }
    january = engine.month_index(month(2024, 1))
    kpis.recompute(store, *[engine.month_date(january + k) for k in range(18)])
    assert engine.NARROW_MONTHS < 18
    for (y, m), want in expected.items():
        assert (kpis.row(store, y, m, "active_self_sold_12m").value, kpis.row(store, y, m, "lapsed_12m").value) == want
        assert (kpis.value(store, y, m, "active_self_sold_12m"), kpis.row(store, y, m, "lapsed_12m").value) == want


# --- traffic, cost, sales ----------------------------------------------------------------------------------

def test_traffic_kinds_costs_and_year_on_year_growth(store, kpis):
    for kind in ("showroom", "showroom", "offsite", "phone_in", "online"):
        visit_create(dealership=store, kind=kind, occurred_at=local(2025, 3, 8))
    visit_create(dealership=store, kind="showroom", occurred_at=local(2024, 3, 8))
    visit_create(dealership=store, kind="offsite", occurred_at=local(2024, 3, 9))
    traffic_plan_set(dealership=store, period=month(2025, 3), planned_traffic=5)
    campaign = CampaignFactory(dealership=store, starts_on=dt.date(2025, 3, 1), ends_on=dt.date(2025, 3, 20))
    campaign_cost_create(campaign=campaign, incurred_on=dt.date(2025, 3, 31), amount=Decimal("1000"))
    campaign_cost_create(campaign=campaign, incurred_on=dt.date(2025, 4, 1), amount=Decimal("500"))
    kpis.recompute(store, month(2025, 3))
    value = lambda code: kpis.row(store, 2025, 3, code).value  # noqa: E731
    assert value("traffic") == 4 and value("online_leads") == 1
    assert value("traffic_achievement") == pytest.approx(0.8)
    assert value("traffic_growth_yoy") == pytest.approx(1.0)
    assert value("promo_cost_total") == 1000
    assert value("cost_per_visitor") == 250
    assert value("test_drive_rate") == 0


def test_sales_process_counts_orders_referrals_and_close_rate_by_person(store, consultant, other_consultant, kpis):
    referrer = _buyer(store, consultant, ordered=local(2024, 12, 1), delivered=local(2024, 12, 2)).customer
    lead = customer_create(dealership=store, consultant=consultant, referred_by=referrer,
                           created_at=local(2025, 3, 1))
    test_drive_create(customer=lead, consultant=consultant, occurred_at=local(2025, 3, 2))
    test_drive_create(customer=lead, consultant=other_consultant, occurred_at=local(2025, 3, 3))
    order_create(customer=lead, consultant=consultant, ordered_at=local(2025, 3, 9), delivered_at=local(2025, 3, 9),
                 gross_profit=Decimal("-500"), oem_rebate=Decimal("3000"))
    lost = customer_create(dealership=store, consultant=other_consultant, stage="target", created_at=local(2025, 2, 1))
    customer_mark_lost(customer=lost, reason="价格", at=local(2025, 3, 15))
    kpis.recompute(store, month(2025, 3))
    value = lambda code, p=None: kpis.row(store, 2025, 3, code, person=p).value  # noqa: E731
    assert value("orders") == 1 and value("referral_deals") == 1 and value("referral_rate") == 1
    assert value("new_car_gross_profit") == 2500
    assert value("test_drives") == 2 and value("test_drive_customers") == 1
    assert value("test_drives", consultant) == 1 and value("test_drives", other_consultant) == 1
    # close rate: 1 ordering customer / 1 who entered target in March (the lost one entered in February)
    assert value("close_rate") == 1
    assert value("intent_lost") == 1 and value("intent_lost", other_consultant) == 1
    # intent loss rate: 1 lost / (1 target at the start of March + 1 entered target in March)
    assert value("intent_loss_rate") == pytest.approx(0.5)
    assert value("intent_loss_rate", other_consultant) == 1


def test_by_person_rows_exist_only_for_by_person_codes(store, consultant, kpis):
    _buyer(store, consultant, ordered=local(2025, 3, 1))
    kpis.recompute(store, month(2025, 3))
    codes = set(KpiValue.objects.filter(dealership=store, person=consultant).values_list("code", flat=True))
    assert codes == set(BY_PERSON_CODES)


def test_satisfaction_rank_is_one_plus_dealers_strictly_higher(store, kpis):
    from kpis.models import SatisfactionScore
    for code, score in ((store.code, 900), ("X1", 950), ("X2", 900), ("X3", 880)):
        SatisfactionScore.objects.create(survey="csi", period=month(2025, 3), dealer_code=code, score=score)
    kpis.recompute(store, month(2025, 3))
    row = kpis.row(store, 2025, 3, "csi_rank")
    assert (row.value, row.denominator) == (2, 4)
    assert kpis.row(store, 2025, 3, "csi_score").value == 900
    assert kpis.row(store, 2025, 3, "ssi_score").value is None


# --- funnel and stages --------------------------------------------------------------------------------------

def test_stage_at_e_follows_the_history_and_leaves_out_the_lost(store, kpis):
    a = customer_create(dealership=store, stage="target", created_at=local(2025, 1, 10))
    customer_mark_lost(customer=a, reason="买了别家", at=local(2025, 2, 10))
    customer_reactivate(customer=a, at=local(2025, 4, 2))
    customer_create(dealership=store, stage="potential", created_at=local(2025, 2, 3))
    kpis.recompute(store, month(2025, 1), month(2025, 2), month(2025, 3), month(2025, 4))
    stage = lambda m, s: kpis.row(store, 2025, m, f"stage_{s}").value  # noqa: E731
    assert (stage(1, "target"), stage(2, "target"), stage(3, "target"), stage(4, "target")) == (1, 0, 0, 1)
    assert (stage(1, "potential"), stage(2, "potential")) == (0, 1)


def test_cohort_rates_count_who_passed_the_next_gate_since(store, kpis):
    walk_in = customer_create(dealership=store, stage="potential", created_at=local(2025, 3, 3))
    customer_create(dealership=store, stage="market", created_at=local(2025, 3, 4))
    test_drive_create(customer=walk_in, occurred_at=local(2025, 5, 1))
    kpis.recompute(store, month(2025, 3))
    assert kpis.row(store, 2025, 3, "capture_rate").value == pytest.approx(0.5)
    assert kpis.row(store, 2025, 3, "retention_rate").value == 1


# --- campaigns -------------------------------------------------------------------------------------------

def test_the_seed_break_even_check():
    assert engine.break_even(fixed=40000, per_attendee=200, attendees=120, contribution=1000) == 64
    assert round(64 / 120, 3) == 0.533


def test_campaign_metrics_and_channel_roi(store, kpis):
    campaign = CampaignFactory(dealership=store, channel="event", starts_on=dt.date(2025, 3, 1),
                               ends_on=dt.date(2025, 3, 10), cycle_days=30, fixed_cost=Decimal("40000"),
                               variable_cost_per_attendee=Decimal("200"), contribution_per_deal=Decimal("1000"),
                               reach=1000, inquiries=50, invited=4, planned_attendees=120)
    campaign_cost_create(campaign=campaign, incurred_on=dt.date(2025, 3, 2), amount=Decimal("10000"))
    lead = customer_create(dealership=store, campaign=campaign, created_at=local(2025, 3, 2))
    late = customer_create(dealership=store, campaign=campaign, created_at=local(2025, 3, 2))
    visit_create(dealership=store, kind="offsite", occurred_at=local(2025, 3, 5), customer=lead, campaign=campaign,
                 invited=True)
    visit_create(dealership=store, kind="offsite", occurred_at=local(2025, 3, 5), campaign=campaign)
    order_create(customer=lead, ordered_at=local(2025, 4, 9, 23, 59), gross_profit=Decimal("12000"))  # day 30
    order_create(customer=late, ordered_at=local(2025, 4, 10, 0, 1), gross_profit=Decimal("9000"))  # day 31
    kpis.recompute(store, month(2025, 3))
    m = {x.code: x.value for x in CampaignMetric.objects.filter(campaign=campaign)}
    assert (m["attendees"], m["leads"], m["deals"], m["gross_profit"], m["cost"]) == (2, 2, 1, 12000, 10000)
    assert m["roi"] == pytest.approx(0.2)
    assert m["info_retention_rate"] == pytest.approx(0.5) and m["invite_to_store_rate"] == pytest.approx(0.25)
    assert m["break_even_deals"] == 41  # ceil((40000 + 200 × 2) / 1000)
    channels = {c.channel: c.roi for c in ChannelValue.objects.filter(dealership=store, period=month(2025, 3))}
    assert channels == {"event": pytest.approx(0.2), "": pytest.approx(0.2)}


def test_without_its_own_contribution_a_campaign_takes_the_stores_profit_per_delivery_of_the_12_months_before(store, kpis):
    # Window [2024-06-01, 2025-06-01) in the store's days: the first and last local minutes of it count,
    # the minute before and the first minute of the start day do not; another store's delivery neither.
    for when, profit in [((2024, 5, 31, 23, 59), "100000"), ((2024, 6, 1, 0, 1), "1000"), ((2025, 5, 31, 23, 59), "2000"),
                         ((2025, 6, 1, 0, 1), "50000")]:
        _buyer(store, ordered=local(2024, 5, 1), delivered=local(*when), profit=profit, rebate="500")
    _buyer(DealershipFactory(code="HZ009"), ordered=local(2024, 5, 1), delivered=local(2025, 1, 1), profit="90000")
    campaign = CampaignFactory(dealership=store, starts_on=dt.date(2025, 6, 1), ends_on=dt.date(2025, 6, 10),
                               fixed_cost=Decimal("10000"), variable_cost_per_attendee=Decimal("0"),
                               contribution_per_deal=None, planned_attendees=10)
    kpis.recompute(store, month(2025, 6))
    m = {x.code: (x.value, x.denominator) for x in CampaignMetric.objects.filter(campaign=campaign)}
    assert m["break_even_deals"] == (5, 2000)  # (1000 + 500 + 2000 + 500) / 2 = 2000 a deal: ceil(10000 / 2000)
    lonely = CampaignFactory(dealership=store, starts_on=dt.date(2020, 6, 1), ends_on=dt.date(2020, 6, 2),
                             contribution_per_deal=None)
    kpis.recompute(store, month(2020, 6))
    assert CampaignMetric.objects.get(campaign=lonely, code="break_even_deals").value is None  # no deliveries: none


def test_month_index_round_trips():
    assert engine.month_date(engine.month_index(dt.date(2025, 12, 31))) == dt.date(2025, 12, 1)
    assert engine.month_start_utc(engine.month_index(dt.date(2025, 4, 1)), zoneinfo.ZoneInfo("Asia/Shanghai")) \
        == dt.datetime(2025, 3, 31, 16, tzinfo=dt.UTC)


def test_a_stores_money_is_summed_over_its_people_in_the_same_order_whatever_order_they_came_in():
    # 0.1 + 0.2 + 0.3 is 0.6000000000000001 in floats, 0.3 + 0.2 + 0.1 is 0.6: summed in the order the
    # database returned the rows, the same revenue would differ to the last bit from one recompute to the
    # next and be rewritten each time.
    m = engine.month_index(dt.date(2025, 3, 1))
    scope = engine.Scope(stores={1: [m]}, tz={1: zoneinfo.ZoneInfo("Asia/Shanghai")})
    totals = []
    for people in ([(11, 0.1), (12, 0.2), (13, 0.3)], [(13, 0.3), (12, 0.2), (11, 0.1)]):
        data = engine.Measures(lo=m - 24, hi=m)
        for person, revenue in people:
            data.add(1, m, person, service_revenue=revenue)
        data.state = data.intervals.finish()
        rows = {(r[2], r[3]): r[4] for r in engine.kpi_rows(scope, data)}
        totals.append(rows[(None, "aftersales_revenue")][0])
    assert totals[0] == totals[1]

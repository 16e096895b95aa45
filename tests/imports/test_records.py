"""Round trips (export a store's records, import them into an empty store, get the same records), the
lifecycle of imported events, idempotency and the dry run."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from aftersales.models import Callback, ServiceVisit
from aftersales.services import callback_create, service_visit_create
from campaigns.models import Campaign, CampaignCost, TrafficPlan
from campaigns.services import campaign_cost_create, campaign_create, traffic_plan_set
from customers.models import Customer, StageChange
from customers.services import customer_create, customer_mark_lost
from dealership.models import StaleMonth
from imports.kinds import IMPORT_ORDER
from imports.selectors import export_csv
from kpis.models import MarketData
from sales.models import Order, Visit
from sales.models import TestDrive as DriveModel  # not collected as a test class
from sales.services import order_create, test_drive_create, visit_create
from tests.factories import MarketDataFactory, SatisfactionScoreFactory, UserFactory
from tests.imports.conftest import messages

pytestmark = pytest.mark.django_db

CST = dt.timezone(dt.timedelta(hours=8))
MAR1 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=CST)


def at(days: float) -> dt.datetime:
    return MAR1 + dt.timedelta(days=days)


@pytest.fixture
def history(store, consultant, advisor):
    """A small store history written through the services, with external ids as a DMS would have."""
    campaign = campaign_create(dealership=store, external_id="K1", name="春季车展", channel="event",
                               starts_on=dt.date(2025, 3, 1), ends_on=dt.date(2025, 3, 7), budget=Decimal("50000"),
                               fixed_cost=Decimal("40000"), variable_cost_per_attendee=Decimal("200"), reach=900)
    campaign_cost_create(campaign=campaign, incurred_on=dt.date(2025, 3, 2), amount=Decimal("12000.50"),
                         category="media", external_id="KC1")
    traffic_plan_set(dealership=store, period=dt.date(2025, 3, 1), planned_traffic=520)
    MarketDataFactory(dealership=store)
    SatisfactionScoreFactory(dealer_code=store.code, dealer_name=store.name)
    zhang = customer_create(dealership=store, external_id="C1", name="张三", phone="13912345678", source="event",
                            campaign=campaign, consultant=consultant, created_at=at(0))
    li = customer_create(dealership=store, external_id="C2", name="李四", phone="13900000002", source="referral",
                         consultant=consultant, referred_by=zhang, created_at=at(1), stage="potential")
    wang = customer_create(dealership=store, external_id="C3", name="王五", phone="13900000003", created_at=at(1))
    visit_create(dealership=store, kind="showroom", occurred_at=at(2), customer=zhang, campaign=campaign,
                 consultant=consultant, invited=True, external_id="V1")
    visit_create(dealership=store, kind="phone_in", occurred_at=at(2.5), external_id="V2")
    test_drive_create(customer=zhang, occurred_at=at(3), consultant=consultant, model="RAV4", external_id="T1")
    order = order_create(customer=zhang, ordered_at=at(4), consultant=consultant, model="RAV4",
                         price=Decimal("160000"), gross_profit=Decimal("-3000"), oem_rebate=Decimal("8000"),
                         campaign=campaign, delivered_at=at(6), external_id="O1")
    callback_create(order=order, completed_at=at(7), reached=True, notes="满意", external_id="B1")
    repair = service_visit_create(customer=zhang, opened_at=at(40), closed_at=at(40.2), advisor=advisor,
                                  vin="lvvdb11b000000001", kind="maintenance", revenue=Decimal("800"),
                                  in_warranty=True, external_id="S1")
    callback_create(service_visit=repair, completed_at=at(41), reached=False, external_id="B2")
    customer_mark_lost(customer=wang, reason="预算不足", at=at(5))
    return {"zhang": zhang, "li": li}


def records(store) -> dict[str, list]:
    """What a store holds, without ids: the records a round trip must give back."""
    return {
        "campaigns": list(Campaign.objects.filter(dealership=store).values_list(
            "external_id", "name", "channel", "starts_on", "ends_on", "budget", "fixed_cost", "reach")),
        "costs": list(CampaignCost.objects.filter(campaign__dealership=store).values_list(
            "external_id", "campaign__external_id", "incurred_on", "amount", "category")),
        "plans": list(TrafficPlan.objects.filter(dealership=store).values_list("period", "planned_traffic")),
        "market": list(MarketData.objects.filter(dealership=store).values_list(
            "period", "city_brand_sales", "city_brand_stores", "market_parc")),
        "customers": sorted(Customer.objects.filter(dealership=store).values_list(
            "external_id", "name", "phone", "source", "campaign__external_id", "consultant__username",
            "referred_by__external_id", "stage", "is_lost", "lost_reason", "lost_at", "created_at",
            "entered_potential_at", "entered_target_at", "entered_real_at", "entered_lifetime_at")),
        "history": sorted(StageChange.objects.filter(customer__dealership=store).values_list(
            "customer__external_id", "kind", "from_stage", "to_stage", "at")),
        "visits": sorted(Visit.objects.filter(dealership=store).values_list(
            "external_id", "customer__external_id", "kind", "occurred_at", "campaign__external_id",
            "consultant__username", "invited")),
        "drives": list(DriveModel.objects.filter(dealership=store).values_list(
            "external_id", "customer__external_id", "occurred_at", "model", "consultant__username")),
        "orders": list(Order.objects.filter(dealership=store).values_list(
            "external_id", "customer__external_id", "ordered_at", "delivered_at", "price", "gross_profit",
            "oem_rebate", "campaign__external_id")),
        "service": list(ServiceVisit.objects.filter(dealership=store).values_list(
            "external_id", "customer__external_id", "advisor__username", "vin", "kind", "opened_at", "closed_at",
            "revenue", "in_warranty")),
        "callbacks": sorted(Callback.objects.filter(dealership=store).values_list(
            "external_id", "order__external_id", "service_visit__external_id", "completed_at", "reached", "notes")),
    }


@pytest.mark.parametrize("chinese", [False, True], ids=["api-headers", "chinese-headers"])
def test_a_store_exported_and_imported_into_an_empty_store_gives_the_same_records(
        history, store, other_store, tmp_path, run_import, chinese):
    staff = {u.username: UserFactory(username=f"{u.username}-new", role=u.role, dealership=other_store).username
             for u in store.staff.all()}
    moved = {store.code: other_store.code, **staff}  # what an assistant would change in Excel
    for kind in IMPORT_ORDER:
        rows = list(csv.reader(io.StringIO(export_csv(kind=kind, dealership=store, chinese=chinese))))
        path = tmp_path / f"{kind}.csv"
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows([[moved.get(cell, cell) for cell in row] for row in rows])
        report = run_import(kind, path)
        assert report.ok, (kind, messages(report))

    got, want = records(other_store), records(store)
    for key in want:
        if key in ("customers", "visits", "drives", "service"):
            want[key] = [tuple(staff.get(v, v) if isinstance(v, str) else v for v in r) for r in want[key]]
        assert got[key] == want[key], key


def test_imported_events_move_customers_at_their_own_times_as_live_events_do(store, consultant, write_csv,
                                                                              run_import):
    run_import("customers", write_csv([["外部编号", "客户姓名", "手机号", "建档时间"],
                                       ["C1", "张三", "13912345678", "2025-03-01 09:00"],
                                       ["C2", "李四", "13900000002", "2025-03-01 09:00"]]), dealership=store)
    # rows out of time order: they are applied in their own order
    assert run_import("orders", write_csv([["外部编号", "客户编号", "下单时间", "交车时间", "成交价"],
                                           ["O2", "C1", "2025-06-01 10:00", "", "150000"],
                                           ["O1", "C1", "2025-03-20 10:00", "2025-03-25 10:00", "150000"]],
                                          name="orders.csv"), dealership=store).ok
    assert run_import("service_visits", write_csv([["外部编号", "客户手机号", "进厂时间", "保修期内"],
                                                   ["S1", "13900000002", "2025-04-01 10:00", "是"]],
                                                  name="sv.csv"), dealership=store).ok
    zhang, li = Customer.objects.get(external_id="C1"), Customer.objects.get(external_id="C2")
    assert zhang.stage == "loyal"  # a second order makes a buyer loyal
    assert list(zhang.stage_changes.values_list("from_stage", "to_stage", "at__date")) == [
        ("", "market", dt.date(2025, 3, 1)), ("market", "potential", dt.date(2025, 3, 20)),
        ("potential", "target", dt.date(2025, 3, 20)), ("target", "real", dt.date(2025, 3, 20)),
        ("real", "lifetime", dt.date(2025, 6, 1)), ("lifetime", "loyal", dt.date(2025, 6, 1))]
    assert zhang.entered_target_at == dt.datetime(2025, 3, 20, 10, tzinfo=store.tzinfo)  # the passage is recorded
    assert li.stage == "market"  # a service visit moves buyers only
    assert set(StaleMonth.objects.values_list("period__month", flat=True)) == {3, 4, 6}


def test_importing_the_same_file_again_creates_nothing_new(history, store, tmp_path, run_import):
    before = records(store)
    for kind in IMPORT_ORDER:
        path = tmp_path / f"{kind}.csv"
        path.write_text(export_csv(kind=kind, dealership=store), encoding="utf-8")
        report = run_import(kind, path)
        assert report.ok and report.created == 0, (kind, messages(report), report.created)
    assert records(store) == before


def test_a_dry_run_reports_what_would_change_and_writes_nothing(store, consultant, write_csv, run_import):
    Customer.objects.create(dealership=store, external_id="C1", name="旧名", entered_market_at=MAR1)
    path = write_csv([["外部编号", "客户姓名", "手机号"], ["C1", "新名", "13912345678"], ["C2", "李四", "13900000002"]])
    report = run_import("customers", path, dealership=store, dry_run=True)
    assert report.ok and (report.created, report.updated) == (1, 1)
    assert [(s["row"], s["action"]) for s in report.sample] == [(2, "update"), (3, "create")]
    assert list(Customer.objects.values_list("external_id", "name")) == [("C1", "旧名")]
    assert not StaleMonth.objects.exists()


def test_a_service_refusing_a_row_undoes_the_whole_file(store, write_csv, run_import):
    # a buyer cannot be lost: caught only when the service runs, after the first row was written
    path = write_csv([["外部编号", "客户姓名", "阶段", "战败", "战败原因"],
                      ["C1", "张三", "market", "否", ""], ["C2", "李四", "real", "是", "买了别家"]])
    report = run_import("customers", path, dealership=store)
    assert not report.ok
    assert report.errors[0]["row"] == 3
    assert not Customer.objects.exists()

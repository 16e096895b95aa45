"""Writing records through the API: the same services as the pages, the same stage moves, idempotent
external ids, store-local datetimes, money as strings and periods as YYYY-MM."""
from __future__ import annotations

import datetime as dt

import pytest

from customers.models import Customer, StageChange
from sales import models as sales
from sales.models import Order, Visit
from tests import factories as f
from tests.api.conftest import client_for

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def post(client, url: str, data: dict, status: int = 201) -> dict:
    response = client.post(url, data, format="json")
    assert response.status_code == status, response.content[:500]
    return response.json()


def test_a_token_is_given_for_a_username_and_password(manager, client):
    response = client.post("/api/v1/auth/token/", {"username": "boss", "password": "correct-horse-battery"})
    assert response.status_code == 200
    token = response.json()["token"]
    listing = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listing.status_code == 200


def test_a_wrong_password_gets_no_token(manager, client):
    response = client.post("/api/v1/auth/token/", {"username": "boss", "password": "wrong"})
    assert response.status_code == 400


def test_the_browser_session_works_too(manager, client):
    client.force_login(manager)
    assert client.get("/api/v1/customers/").status_code == 200


def test_a_customer_is_created_in_the_users_own_store_by_default(consultant, store):
    body = post(client_for(consultant), "/api/v1/customers/",
                {"name": "张三", "phone": "+86 139-1234-5678", "source": "walk_in", "consultant": consultant.pk})
    assert body["dealership"] == store.pk
    assert body["stage"] == "market"
    assert body["phone"] == "13912345678"
    assert Customer.objects.get(pk=body["id"]).dealership == store


def test_a_customer_created_at_a_later_stage_passes_through_the_earlier_ones(manager):
    body = post(client_for(manager), "/api/v1/customers/",
                {"name": "李四", "stage": "target", "created_at": "2025-03-01T10:00:00"})
    moves = list(StageChange.objects.filter(customer_id=body["id"]).values_list("from_stage", "to_stage"))
    assert moves == [("", "market"), ("market", "potential"), ("potential", "target")]
    # A naive datetime is read in the store's time zone (Asia/Shanghai).
    assert Customer.objects.get(pk=body["id"]).created_at == dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.timezone.utc)


def test_an_api_test_drive_makes_a_potential_customer_target_as_of_the_drive(consultant, store):
    customer = f.CustomerFactory(dealership=store, consultant=consultant, stage="potential")
    post(client_for(consultant), "/api/v1/test-drives/",
         {"customer": customer.pk, "occurred_at": "2025-03-05T15:00:00+08:00", "model": "RAV4"})
    customer.refresh_from_db()
    assert customer.stage == "target"
    assert customer.entered_target_at == dt.datetime(2025, 3, 5, 15, 0, tzinfo=SHANGHAI)
    assert StageChange.objects.filter(customer=customer, to_stage="target", reason="test_drive").exists()


def test_an_order_for_a_potential_customer_records_the_passage_through_target(manager, store):
    customer = f.CustomerFactory(dealership=store, stage="potential")
    body = post(client_for(manager), "/api/v1/orders/", {
        "customer": customer.pk, "ordered_at": "2025-03-06T10:00:00+08:00", "price": "150000",
        "gross_profit": "-6000.5", "oem_rebate": "8250"})
    assert body["price"] == "150000.00" and body["gross_profit"] == "-6000.50"
    customer.refresh_from_db()
    assert customer.stage == "real"
    hops = list(StageChange.objects.filter(customer=customer).values_list("from_stage", "to_stage"))
    assert ("potential", "target") in hops and ("target", "real") in hops


def test_posting_the_same_external_id_again_updates_instead_of_duplicating(manager, store):
    client = client_for(manager)
    first = post(client, "/api/v1/visits/", {"external_id": "DMS-1", "kind": "showroom",
                                            "occurred_at": "2025-03-05T10:00:00+08:00"})
    again = post(client, "/api/v1/visits/", {"external_id": "DMS-1", "kind": "phone_in",
                                            "occurred_at": "2025-03-05T11:00:00+08:00"}, status=200)
    assert again["id"] == first["id"]
    assert Visit.objects.filter(dealership=store, external_id="DMS-1").count() == 1
    assert Visit.objects.get(pk=first["id"]).kind == "phone_in"


def test_a_consultant_cannot_overwrite_a_colleagues_record_through_its_external_id(consultant, other_consultant,
                                                                                    store):
    hidden = f.CustomerFactory(dealership=store, consultant=other_consultant, external_id="C-9", name="原名")
    response = client_for(consultant).post("/api/v1/customers/", {"external_id": "C-9", "name": "改名"}, format="json")
    assert response.status_code == 400 and "external_id" in response.json()
    hidden.refresh_from_db()
    assert hidden.name == "原名"


def test_the_stage_changes_only_through_the_stage_action(manager, store):
    customer = f.CustomerFactory(dealership=store)
    client = client_for(manager)
    response = client.patch(f"/api/v1/customers/{customer.pk}/", {"stage": "real"}, format="json")
    assert response.status_code == 400 and "stage" in response.json()
    body = post(client, f"/api/v1/customers/{customer.pk}/stage/", {"stage": "target", "at": "2025-03-02T09:00:00"},
                status=200)
    assert body["stage"] == "target"
    history = client.get(f"/api/v1/customers/{customer.pk}/history/").json()
    assert [(h["from"], h["to"]) for h in history][-2:] == [("market", "potential"), ("potential", "target")]
    assert history[-1]["by"] == manager.pk
    assert history[-1]["at"].startswith("2025-03-02T09:00:00+08:00")


def test_a_customer_is_marked_lost_and_reactivated(manager, store):
    customer = f.CustomerFactory(dealership=store, stage="target")
    client = client_for(manager)
    body = post(client, f"/api/v1/customers/{customer.pk}/lost/", {"reason": "预算不足"}, status=200)
    assert body["is_lost"] is True and body["lost_reason"] == "预算不足"
    missing_reason = client.post(f"/api/v1/customers/{customer.pk}/lost/", {}, format="json")
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()
    body = post(client, f"/api/v1/customers/{customer.pk}/lost/", {"reactivate": True}, status=200)
    assert body["is_lost"] is False


def test_an_order_is_delivered_with_a_patch(manager, store):
    order = f.OrderFactory(customer=f.CustomerFactory(dealership=store))
    client = client_for(manager)
    early = client.patch(f"/api/v1/orders/{order.pk}/", {"delivered_at": "2025-01-01T10:00:00+08:00"}, format="json")
    assert early.status_code == 400 and "delivered_at" in early.json()
    body = client.patch(f"/api/v1/orders/{order.pk}/", {"delivered_at": "2025-03-20T10:00:00"}, format="json").json()
    assert body["delivered_at"] == "2025-03-20T10:00:00+08:00"


def test_a_service_visit_is_settled_with_a_patch(advisor, store):
    visit = f.ServiceVisitFactory(customer=f.CustomerFactory(dealership=store), closed_at=None)
    body = client_for(advisor).patch(f"/api/v1/service-visits/{visit.pk}/",
                                     {"closed_at": "2025-03-10T18:00:00+08:00", "revenue": "1234.5"},
                                     format="json").json()
    assert body["closed_at"] == "2025-03-10T18:00:00+08:00" and body["revenue"] == "1234.50"


def test_a_callback_about_a_delivery_is_recorded(manager, store):
    order = f.OrderFactory(customer=f.CustomerFactory(dealership=store), delivered_at=f.T0)
    body = post(client_for(manager), "/api/v1/callbacks/", {"order": order.pk, "reached": True,
                                                           "completed_at": "2025-03-11T10:00:00+08:00"})
    assert body["dealership"] == store.pk and body["service_visit"] is None


def test_periods_are_months_and_a_month_posted_again_replaces_its_plan(marketing, store):
    client = client_for(marketing)
    first = post(client, "/api/v1/traffic-plans/", {"period": "2025-03", "planned_traffic": 500})
    assert first["period"] == "2025-03"
    post(client, "/api/v1/traffic-plans/", {"period": "2025-03", "planned_traffic": 650})
    rows = client.get("/api/v1/traffic-plans/?period=2025-03").json()["results"]
    assert [(r["period"], r["planned_traffic"]) for r in rows] == [("2025-03", 650)]


def test_a_campaign_has_its_money_as_strings_and_a_cost_entry(marketing, store):
    client = client_for(marketing)
    campaign = post(client, "/api/v1/campaigns/", {
        "name": "春季车展", "channel": "event", "starts_on": "2025-03-01", "ends_on": "2025-03-07",
        "fixed_cost": "40000", "variable_cost_per_attendee": "200", "planned_attendees": 120})
    assert campaign["fixed_cost"] == "40000.00" and campaign["cycle_days"] == 30
    cost = post(client, "/api/v1/campaign-costs/", {"campaign": campaign["id"], "incurred_on": "2025-03-02",
                                                    "amount": "10000", "category": "media"})
    assert cost["amount"] == "10000.00" and cost["dealership"] == store.pk


def test_a_manager_appoints_staff_with_a_validated_password_that_is_never_shown(manager, store, client):
    api = client_for(manager)
    weak = api.post("/api/v1/staff/", {"username": "newbie", "role": "consultant", "password": "123"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()
    body = post(api, "/api/v1/staff/", {"username": "newbie", "name": "新人", "role": "consultant",
                                        "password": "a-long-enough-secret"})
    assert "password" not in body and body["dealership"] == store.pk
    token = client.post("/api/v1/auth/token/", {"username": "newbie", "password": "a-long-enough-secret"})
    assert token.status_code == 200
    assert api.delete(f"/api/v1/staff/{body['id']}/").status_code == 204
    assert api.get(f"/api/v1/staff/{body['id']}/").json()["is_active"] is False


def test_a_consultant_may_not_appoint_staff(consultant):
    response = client_for(consultant).post("/api/v1/staff/", {"username": "x", "role": "manager",
                                                               "password": "a-long-enough-secret"}, format="json")
    assert response.status_code == 403


def test_only_a_superuser_creates_stores(manager):
    response = client_for(manager).post("/api/v1/dealerships/", {"code": "NEW1", "name": "新店"}, format="json")
    assert response.status_code == 403
    root = f.UserFactory(username="root", is_superuser=True, is_staff=True, dealership=None, role="manager")
    body = post(client_for(root), "/api/v1/dealerships/", {"code": "NEW1", "name": "新店"})
    assert body["timezone"] == "Asia/Shanghai"


def test_satisfaction_scores_posted_again_update_the_score(manager):
    client = client_for(manager)
    row = {"survey": "csi", "period": "2025-01", "dealer_code": "X001", "dealer_name": "同区店", "score": "905"}
    first = post(client, "/api/v1/satisfaction-scores/", row)
    second = post(client, "/api/v1/satisfaction-scores/", {**row, "score": "910.5"})
    assert first["id"] == second["id"] and second["score"] == "910.50"


def test_market_data_is_written_and_deleted(manager, store):
    client = client_for(manager)
    body = post(client, "/api/v1/market-data/", {"period": "2025-01", "city_brand_sales": 300,
                                                 "city_brand_stores": 4})
    assert body["market_parc"] == 0
    assert client.delete(f"/api/v1/market-data/{body['id']}/").status_code == 204
    assert client.get(f"/api/v1/market-data/{body['id']}/").status_code == 404


def test_the_docs_serve_swagger_ui_from_our_own_static_files(manager, client):
    client.force_login(manager)
    page = client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar" in page and "cdn" not in page.lower()
    assert client.get("/api/schema/").status_code == 200


@pytest.mark.parametrize("model,url", [(Order, "/api/v1/orders/"), (sales.TestDrive, "/api/v1/test-drives/")])
def test_records_need_a_customer(manager, model, url):
    response = client_for(manager).post(url, {"ordered_at": "2025-03-01T10:00:00+08:00",
                                              "occurred_at": "2025-03-01T10:00:00+08:00"}, format="json")
    assert response.status_code == 400 and "customer" in response.json()
    assert model.objects.count() == 0


def test_a_customer_read_and_put_back_with_a_new_name_is_updated(manager, store):
    customer = f.CustomerFactory(dealership=store, stage="target")
    client = client_for(manager)
    body = client.get(f"/api/v1/customers/{customer.pk}/").json()
    response = client.put(f"/api/v1/customers/{customer.pk}/", {**body, "name": "新名字"}, format="json")
    assert response.status_code == 200, response.content[:300]
    customer.refresh_from_db()
    assert (customer.name, customer.stage) == ("新名字", "target")


def test_a_group_manager_sees_phone_numbers_masked(group_manager, store):
    f.CustomerFactory(dealership=store, phone="13912345678")
    row = client_for(group_manager).get("/api/v1/customers/").json()["results"][0]
    assert row["phone"] == "139****5678"

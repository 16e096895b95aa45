"""Bad input gets a 400 with a message for each field at fault, and nothing of the request is written."""
from __future__ import annotations

import pytest

from aftersales.models import Callback, ServiceVisit
from campaigns.models import Campaign, CampaignCost, TrafficPlan
from customers.models import Customer, StageChange
from dealership.models import StaleMonth
from kpis.models import KpiTarget, MarketData, SatisfactionScore
from sales import models as sales
from sales.models import Order, Visit
from tests import factories as f
from tests.api.conftest import client_for

WRITTEN = [Customer, StageChange, Visit, sales.TestDrive, Order, ServiceVisit, Callback, Campaign, CampaignCost,
           TrafficPlan, MarketData, SatisfactionScore, KpiTarget, StaleMonth]


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in WRITTEN}


@pytest.fixture
def records(store, consultant):
    customer = f.CustomerFactory(dealership=store, consultant=consultant)
    order = f.OrderFactory(customer=customer, delivered_at=f.T0)
    visit = f.ServiceVisitFactory(customer=customer)
    return {"customer": customer.pk, "order": order.pk, "service_visit": visit.pk}


CASES = [
    # (what is wrong, url, payload, the fields that must be named)
    ("a number where a choice is due", "/api/v1/customers/", {"name": "x", "source": 123}, {"source"}),
    ("an unknown stage", "/api/v1/customers/", {"name": "x", "stage": "vip"}, {"stage"}),
    ("a phone with letters", "/api/v1/customers/", {"name": "x", "phone": "call me"}, {"phone"}),
    ("an unknown visit kind", "/api/v1/visits/", {"kind": "teleport", "occurred_at": "2025-03-01T10:00:00Z"},
     {"kind"}),
    ("a date that is not a date", "/api/v1/visits/", {"kind": "showroom", "occurred_at": "yesterday"},
     {"occurred_at"}),
    ("a year far off", "/api/v1/visits/", {"kind": "showroom", "occurred_at": "0001-01-01T00:00:00Z"},
     {"occurred_at"}),
    ("a negative price", "/api/v1/orders/", {"customer": "{customer}", "ordered_at": "2025-03-01T10:00:00+08:00",
                                              "price": "-1.00"}, {"price"}),
    ("an order delivered before it was ordered", "/api/v1/orders/",
     {"customer": "{customer}", "ordered_at": "2025-03-10T10:00:00+08:00",
      "delivered_at": "2025-03-01T10:00:00+08:00"}, {"delivered_at"}),
    ("a price that is not a number", "/api/v1/orders/",
     {"customer": "{customer}", "ordered_at": "2025-03-10T10:00:00+08:00", "price": "lots"}, {"price"}),
    ("a callback with two subjects", "/api/v1/callbacks/",
     {"order": "{order}", "service_visit": "{service_visit}", "reached": True}, {"order", "service_visit"}),
    ("a callback with no subject", "/api/v1/callbacks/", {"reached": True}, {"order", "service_visit"}),
    ("a service visit closed before it opened", "/api/v1/service-visits/",
     {"customer": "{customer}", "opened_at": "2025-03-10T10:00:00+08:00",
      "closed_at": "2025-03-09T10:00:00+08:00"}, {"closed_at"}),
    ("a negative revenue", "/api/v1/service-visits/",
     {"customer": "{customer}", "opened_at": "2025-03-10T10:00:00+08:00", "revenue": "-5"}, {"revenue"}),
    ("month 13", "/api/v1/traffic-plans/", {"period": "2026-13", "planned_traffic": 10}, {"period"}),
    ("month 13 of market data", "/api/v1/market-data/",
     {"period": "2026-13", "city_brand_sales": 1, "city_brand_stores": 1}, {"period"}),
    ("a negative plan", "/api/v1/traffic-plans/", {"period": "2026-01", "planned_traffic": -1}, {"planned_traffic"}),
    ("a campaign that ends before it starts", "/api/v1/campaigns/",
     {"name": "x", "channel": "event", "starts_on": "2025-03-10", "ends_on": "2025-03-01"}, {"ends_on"}),
    ("an unknown channel and a negative budget", "/api/v1/campaigns/",
     {"name": "x", "channel": "tv", "starts_on": "2025-03-01", "ends_on": "2025-03-02", "budget": "-1"},
     {"channel", "budget"}),
    ("a control line on the good side", "/api/v1/kpi-targets/",
     {"dealership": "{store}", "code": "traffic_achievement", "target": 0.9, "control_line": 0.95,
      "direction": "higher"}, {"control_line"}),
    ("an unknown KPI", "/api/v1/kpi-targets/",
     {"dealership": "{store}", "code": "happiness", "target": 1, "control_line": 0, "direction": "higher"},
     {"code"}),
    ("a survey score of month 13", "/api/v1/satisfaction-scores/",
     {"survey": "csi", "period": "2026-13", "dealer_code": "X1", "score": "90"}, {"period"}),
]


@pytest.mark.parametrize("what,url,payload,fields", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_field_by_field_and_nothing_is_written(what, url, payload, fields, manager, store,
                                                                    records):
    refs = {**records, "store": store.pk}
    payload = {k: (refs[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v) for k, v in payload.items()}
    before = counts()
    response = client_for(manager).post(url, payload, format="json")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert fields <= set(body), body
    for field in fields:
        assert isinstance(body[field], list) and all(isinstance(m, str) and m for m in body[field])
    assert counts() == before


def test_a_reference_to_another_stores_record_is_refused_without_saying_it_exists(manager, other_store):
    foreign = f.CustomerFactory(dealership=other_store)
    before = counts()
    for url, payload in [("/api/v1/test-drives/", {"customer": foreign.pk, "occurred_at": "2025-03-01T10:00:00Z"}),
                         ("/api/v1/customers/", {"name": "x", "dealership": other_store.pk}),
                         ("/api/v1/customers/", {"name": "x", "referred_by": foreign.pk})]:
        response = client_for(manager).post(url, payload, format="json")
        never_used = client_for(manager).post(url, {k: 987654321 if v in (foreign.pk, other_store.pk) else v
                                                    for k, v in payload.items()}, format="json")
        assert response.status_code == never_used.status_code == 400
        said = response.content.decode().replace(f"“{foreign.pk}”", "“ID”").replace(f"“{other_store.pk}”", "“ID”")
        assert said == never_used.content.decode().replace("“987654321”", "“ID”")
    assert counts() == before


def test_messages_come_in_chinese_and_in_english(manager):
    client = client_for(manager)
    zh = client.post("/api/v1/visits/", {"kind": "showroom"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    en = client.post("/api/v1/visits/", {"kind": "showroom"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["occurred_at"] == ["This field is required."]
    assert zh.json()["occurred_at"] == ["该字段是必填项。"]


def test_a_bad_filter_or_page_is_a_400_not_a_500(manager):
    client = client_for(manager)
    assert client.get("/api/v1/customers/?stage=vip").status_code == 400
    assert client.get("/api/v1/customers/?dealership=abc").status_code == 400
    assert client.get("/api/v1/customers/?from=2025-13-01").status_code == 400
    assert client.get("/api/v1/customers/?to=9999-12-31").status_code == 400
    assert client.get("/api/v1/visits/?from=0001-01-01").status_code == 400
    assert client.get("/api/v1/traffic-plans/?period=2026-13").status_code == 400
    assert client.get("/api/v1/customers/?cursor=%%%").status_code == 400
    assert client.get("/api/v1/customers/?page_size=0").status_code == 400
    assert client.get("/api/v1/customers/abc/").status_code == 404
    assert client.get("/api/v1/customers/99999999999999999999999/").status_code == 404

"""Apply ../shared/golden/scenario.json through the services, in the order of its steps."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from aftersales.services import callback_create, service_visit_create
from campaigns.services import campaign_cost_create, campaign_create, traffic_plan_set
from customers.services import customer_create, customer_mark_lost
from dealership.models import Dealership, User
from kpis.models import MarketData, SatisfactionScore
from sales.services import order_create, test_drive_create, visit_create

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden"


def _at(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _month(value: str) -> dt.date:
    return dt.date.fromisoformat(f"{value}-01")


def load_scenario(path: Path = GOLDEN / "scenario.json") -> dict[str, object]:
    """Create the scenario's records; returns the objects by their scenario key."""
    s = json.loads(path.read_text())
    keys: dict[str, object] = {}
    for d in s["dealerships"]:
        keys[d["key"]] = Dealership.objects.create(code=d["code"], name=d["name"], city=d["city"],
                                                   brand=d["brand"], timezone=d["timezone"])
    for u in s["staff"]:
        keys[u["key"]] = User.objects.create_user(username=u["username"], role=u["role"],
                                                  dealership=keys[u["store"]], email=f"{u['username']}@example.com")
    money = ("budget", "fixed_cost", "variable_cost_per_attendee", "contribution_per_deal")
    for c in s["campaigns"]:
        fields = {k: v for k, v in c.items() if k not in ("key", "store")}
        for k in money:
            if fields.get(k) is not None:
                fields[k] = Decimal(fields[k])
        fields["starts_on"] = dt.date.fromisoformat(fields["starts_on"])
        fields["ends_on"] = dt.date.fromisoformat(fields["ends_on"])
        keys[c["key"]] = campaign_create(dealership=keys[c["store"]], external_id=c["key"], **fields)
    for k in s["campaign_costs"]:
        campaign_cost_create(campaign=keys[k["campaign"]], incurred_on=dt.date.fromisoformat(k["incurred_on"]),
                             amount=Decimal(k["amount"]), category=k.get("category", ""))
    for p in s["traffic_plans"]:
        traffic_plan_set(dealership=keys[p["store"]], period=_month(p["period"]), planned_traffic=p["planned_traffic"])
    # Outside data has no service of its own in the KPI app: it is imported as plain rows.
    MarketData.objects.bulk_create([
        MarketData(dealership=keys[m["store"]], period=_month(m["period"]), city_brand_sales=m["city_brand_sales"],
                   city_brand_stores=m["city_brand_stores"], market_parc=m["market_parc"])
        for m in s["market_data"]
    ])
    SatisfactionScore.objects.bulk_create([
        SatisfactionScore(survey=x["survey"], period=_month(x["period"]), region=x.get("region") or "",
                          dealer_code=x["dealer_code"], dealer_name=x.get("dealer_name", ""), score=Decimal(x["score"]))
        for x in s["satisfaction_scores"]
    ])
    get = lambda key: keys[key] if key else None  # noqa: E731
    for st in s["steps"]:
        kind = st["type"]
        if kind == "customer":
            keys[st["key"]] = customer_create(
                dealership=keys[st["store"]], name=st["name"], phone=st["phone"], source=st["source"],
                campaign=get(st["campaign"]), consultant=get(st["consultant"]), referred_by=get(st["referred_by"]),
                stage=st["stage"], created_at=_at(st["created_at"]), external_id=st["key"])
        elif kind == "visit":
            visit_create(dealership=keys[st["store"]], kind=st["kind"], occurred_at=_at(st["occurred_at"]),
                         customer=get(st["customer"]), campaign=get(st["campaign"]),
                         consultant=get(st["consultant"]), invited=st["invited"])
        elif kind == "test_drive":
            test_drive_create(customer=keys[st["customer"]], occurred_at=_at(st["occurred_at"]),
                              consultant=get(st["consultant"]), model=st["model"])
        elif kind == "order":
            keys[st["key"]] = order_create(
                customer=keys[st["customer"]], ordered_at=_at(st["ordered_at"]), consultant=get(st["consultant"]),
                model=st["model"], price=Decimal(st["price"]), gross_profit=Decimal(st["gross_profit"]),
                oem_rebate=Decimal(st["oem_rebate"]), campaign=get(st["campaign"]),
                delivered_at=_at(st["delivered_at"]), external_id=st["key"])
        elif kind == "service_visit":
            keys[st["key"]] = service_visit_create(
                customer=keys[st["customer"]], opened_at=_at(st["opened_at"]), closed_at=_at(st["closed_at"]),
                advisor=get(st["advisor"]), vin=st["vin"], kind=st["kind"], revenue=Decimal(st["revenue"]),
                in_warranty=st["in_warranty"], external_id=st["key"])
        elif kind == "callback":
            callback_create(order=get(st.get("order_key")), service_visit=get(st.get("service_key")),
                            completed_at=_at(st["completed_at"]), reached=st["reached"])
        elif kind == "lost":
            customer = keys[st["customer"]]
            customer.refresh_from_db()
            customer_mark_lost(customer=customer, reason=st["reason"], at=_at(st["at"]))
        else:
            raise ValueError(f"unknown step type {kind}")
    return keys


def expected() -> dict:
    return json.loads((GOLDEN / "expected.json").read_text())

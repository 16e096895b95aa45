"""Replay a simulated History through the real services, into a second copy of its stores."""
from __future__ import annotations

import dataclasses

from aftersales.models import ServiceVisit
from aftersales.services import callback_create, service_visit_close, service_visit_create
from campaigns.models import Campaign
from customers.models import Customer
from customers.services import customer_create, customer_mark_lost, customer_move_stage, customer_reactivate
from dealership.demo.history import History
from dealership.demo.writer import Written, _write_setup
from dealership.models import User
from sales.models import Order
from sales.services import order_create, order_deliver, test_drive_create, visit_create


def twin(history: History) -> History:
    """The same history for stores and staff of other names (codes and usernames are unique)."""
    return dataclasses.replace(
        history,
        group_name=history.group_name + " (replay)",
        stores=[dataclasses.replace(s, code=s.code + "-R") for s in history.stores],
        staff=[dataclasses.replace(s, username="r_" + s.username) for s in history.staff],
        surveys=[],
    )


def replay_through_services(history: History) -> Written:
    """Write the setup like the demo does, then every event through the service a user's action calls."""
    out = Written()
    _write_setup(history, out, "Huitong-4S-2026", None)
    users = User.objects.in_bulk(list(out.staff.values()))
    campaigns = Campaign.objects.in_bulk(list(out.campaigns.values()))
    specs = {c.key: c for c in history.customers}
    stores = {s.key: s for s in history.stores}
    from dealership.models import Dealership

    dealerships = Dealership.objects.in_bulk(list(out.stores.values()))
    customers: dict[int, Customer] = {}
    orders: dict[int, Order] = {}
    service_visits: dict[int, ServiceVisit] = {}

    def user(key):
        return users[out.staff[key]] if key is not None else None

    def campaign(key):
        return campaigns[out.campaigns[key]] if key is not None else None

    for e in history.events:
        d, customer = e.data, customers.get(e.customer)
        if e.kind == "create":
            s = specs[e.customer]
            customer = customers[e.customer] = customer_create(
                dealership=dealerships[out.stores[s.store]], name=s.name, phone=s.phone, source=s.source,
                campaign=campaign(s.campaign), consultant=user(s.consultant),
                referred_by=customers.get(s.referred_by) if s.referred_by else None, intent=s.intent,
                created_at=e.at, by=user(d["by"]))
            out.customers[e.customer] = customer.pk
        elif e.kind == "visit":
            visit_create(dealership=dealerships[out.stores[e.store]], kind=d["kind"], occurred_at=e.at,
                         customer=customer, campaign=campaign(d["campaign"]), consultant=user(d["consultant"]),
                         invited=d["invited"], by=user(d["consultant"]))
        elif e.kind == "test_drive":
            test_drive_create(customer=customer, occurred_at=e.at, consultant=user(d["consultant"]),
                              model=d["model"], by=user(d["consultant"]))
        elif e.kind == "order":
            orders[e.key] = order_create(
                customer=customer, ordered_at=e.at, consultant=user(d["consultant"]), model=d["model"],
                price=d["price"], gross_profit=d["gross_profit"], oem_rebate=d["oem_rebate"],
                campaign=campaign(d["campaign"]), by=user(d["consultant"]))
        elif e.kind == "deliver":
            order_deliver(order=orders[e.key], delivered_at=e.at)
        elif e.kind == "service":
            # Opened, then settled: the two steps an advisor takes (closing never moves a stage).
            visit = service_visit_create(customer=customer, opened_at=e.at, advisor=user(d["advisor"]), vin=d["vin"],
                                         kind=d["kind"], revenue=d["revenue"], in_warranty=d["in_warranty"],
                                         by=user(d["advisor"]))
            if d["closed_at"] is not None:
                visit = service_visit_close(service_visit=visit, closed_at=d["closed_at"])
            service_visits[e.key] = visit
        elif e.kind == "callback":
            callback_create(order=orders[d["order"]] if d["order"] else None,
                            service_visit=service_visits[d["service_visit"]] if d["service_visit"] else None,
                            staff=user(d["staff"]), completed_at=e.at, reached=d["reached"])
        elif e.kind == "lost":
            customer_mark_lost(customer=customer, reason=d["reason"], at=e.at, by=user(d["by"]))
        elif e.kind == "reactivate":
            customer_reactivate(customer=customer, at=e.at, by=user(d["by"]))
        elif e.kind == "move":
            customer_move_stage(customer=customer, stage=d["stage"], at=e.at, by=user(d["by"]))
        else:
            raise AssertionError(f"the replay does not know event kind {e.kind!r}")
    del stores
    return out

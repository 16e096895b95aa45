"""The bulk demo writer keeps the lifecycle rules exactly as the services do."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from aftersales.models import Callback, ServiceVisit
from customers.models import Customer, StageChange
from dealership.demo.history import DEMO_STORES, simulate
from dealership.demo.writer import write_history
from sales import models as sales
from tests.demo.replay import replay_through_services, twin

NOW = dt.datetime(2026, 3, 18, 15, 0, tzinfo=dt.UTC)
LIFECYCLE_FIELDS = ["stage", "is_lost", "lost_reason", "lost_at", "created_at", "last_contact_at",
                    "entered_market_at", "entered_potential_at", "entered_target_at", "entered_real_at",
                    "entered_lifetime_at", "entered_loyal_at"]


@pytest.fixture(scope="module")
def small_history():
    # One small store, eight months: a few hundred customers, every kind of event.
    return simulate(seed=11, months=8, size=0.035, now=NOW, stores=[DEMO_STORES[0]])


def _lifecycles(written) -> dict[int, dict]:
    """Every customer's lifecycle columns, history and records, keyed by the History's customer key."""
    staff_key = {pk: key for key, pk in written.staff.items()}
    key_of = {pk: key for key, pk in written.customers.items()}
    out = {key_of[c.pk]: {f: getattr(c, f) for f in LIFECYCLE_FIELDS} | {"changes": [], "records": Counter()}
           for c in Customer.objects.filter(pk__in=key_of)}
    for c in StageChange.objects.filter(customer_id__in=key_of).order_by("at", "id"):
        out[key_of[c.customer_id]]["changes"].append(
            (c.kind, c.from_stage, c.to_stage, c.at, staff_key.get(c.by_id), c.reason))
    rows = [("visit", v) for v in sales.Visit.objects.filter(customer_id__in=key_of).values_list("customer_id", "occurred_at")]
    rows += [("test_drive", v) for v in sales.TestDrive.objects.filter(customer_id__in=key_of).values_list("customer_id", "occurred_at")]
    # With the first reached callback each subject keeps (the bulk writer fills it, the services keep it).
    rows += [("order", (c, (a, b, f))) for c, a, b, f in sales.Order.objects.filter(customer_id__in=key_of)
             .values_list("customer_id", "ordered_at", "delivered_at", "first_callback_at")]
    rows += [("service", (c, (a, b, f))) for c, a, b, f in ServiceVisit.objects.filter(customer_id__in=key_of)
             .values_list("customer_id", "opened_at", "closed_at", "first_callback_at")]
    rows += [("callback", v) for v in Callback.objects.filter(order__customer_id__in=key_of)
             .values_list("order__customer_id", "completed_at")]
    rows += [("callback", v) for v in Callback.objects.filter(service_visit__customer_id__in=key_of)
             .values_list("service_visit__customer_id", "completed_at")]
    for table, (customer_id, when) in rows:
        out[key_of[customer_id]]["records"][(table, when)] += 1
    return out


@pytest.mark.django_db
@pytest.mark.slow
def test_the_bulk_writer_and_the_services_give_every_customer_the_same_lifecycle(small_history):
    kinds = Counter(e.kind for e in small_history.events)
    assert all(kinds[k] for k in ("create", "visit", "test_drive", "order", "deliver", "service", "callback",
                                  "lost", "reactivate", "move")), f"the sample must exercise every rule: {kinds}"

    bulk = write_history(small_history, staff_password="Huitong-4S-2026")
    replayed = replay_through_services(twin(small_history))

    assert bulk.customers.keys() == replayed.customers.keys()
    ours, theirs = _lifecycles(bulk), _lifecycles(replayed)
    differences = [(key, {f: (ours[key][f], theirs[key][f]) for f in ours[key] if ours[key][f] != theirs[key][f]})
                   for key in ours if ours[key] != theirs[key]]
    assert not differences, f"{len(differences)} customers differ, first: {differences[:2]}"


@pytest.mark.django_db
def test_skipped_stages_are_recorded_as_passages_in_the_bulk_history(small_history):
    written = write_history(small_history, staff_password="Huitong-4S-2026")
    buyers = Customer.objects.filter(pk__in=written.customers.values(), stage="real")
    assert buyers.exists()
    for buyer in buyers[:50]:
        moves = list(buyer.stage_changes.filter(kind="move").order_by("at", "id")
                     .values_list("from_stage", "to_stage"))
        assert moves[:4] == [("", "market"), ("market", "potential"), ("potential", "target"), ("target", "real")]
        assert buyer.entered_market_at <= buyer.entered_potential_at <= buyer.entered_target_at <= buyer.entered_real_at

"""Another store's object (or, for a consultant, a colleague's customer) does not exist through the API.

The routes come from the OpenAPI schema itself, so a route added later is checked without anyone
remembering to add it here. For each detail route and each method it offers, a foreign id must answer
exactly what an id that was never used answers (404; or 403/405 when the role or method is refused for
every id alike) — never a 200 or a 500 — and the foreign records must be unchanged afterwards.
"""
from __future__ import annotations

import re

import pytest
from django.forms.models import model_to_dict
from drf_spectacular.generators import SchemaGenerator

from tests.api.conftest import client_for, world_of
from tests import factories as f

MISSING_ID = "987654321"
SHARED = {"satisfaction-scores"}  # the region's survey table is shared by every store (spec/api.md)


def detail_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ops = []
    for path, item in schema["paths"].items():
        if "{" not in path:
            continue
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                ops.append((path, method))
    return sorted(ops)


OPERATIONS = detail_operations()


def resource_of(path: str) -> str:
    resource = path.removeprefix("/api/v1/").split("/")[0]
    return "recompute" if path.startswith("/api/v1/kpis/recompute/") else resource


def url_for(path: str, value) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


def key_of(obj) -> str:
    return obj.task_id if hasattr(obj, "task_id") else str(obj.pk)


def snapshot(world: dict) -> dict:
    return {name: model_to_dict(type(obj).objects.get(pk=obj.pk)) for name, obj in world.items()}


def test_the_schema_lists_detail_routes_of_every_resource():
    resources = {resource_of(p) for p, _ in OPERATIONS}
    assert {"customers", "visits", "test-drives", "orders", "service-visits", "callbacks", "campaigns",
            "campaign-costs", "traffic-plans", "market-data", "kpi-targets", "kpi-alerts", "staff",
            "dealerships", "recompute"} <= resources


def foreign_failures(client, world: dict, *, every_resource: bool = True) -> list[str]:
    """Every detail operation of the schema, tried on each foreign object and on an id never used."""
    failures = []
    for path, method in OPERATIONS:
        resource = resource_of(path)
        if resource in SHARED:
            continue
        if resource not in world:
            if every_resource:
                failures.append(f"{method.upper()} {path}: no {resource} object to try (add one to world_of)")
            continue
        call = getattr(client, method)
        foreign = call(url_for(path, key_of(world[resource])), {}, format="json")
        missing = call(url_for(path, MISSING_ID), {}, format="json")
        allowed = (404,) if method == "get" else (403, 404, 405)
        if foreign.status_code != missing.status_code or foreign.status_code not in allowed:
            failures.append(f"{method.upper()} {path}: foreign {foreign.status_code}, missing {missing.status_code}")
    return failures


def test_another_stores_manager_finds_nothing_of_ours(home_world, other_manager):
    before = snapshot(home_world)
    assert foreign_failures(client_for(other_manager), home_world) == []
    assert snapshot(home_world) == before


def test_a_manager_finds_nothing_of_another_store(foreign_world, manager):
    before = snapshot(foreign_world)
    assert foreign_failures(client_for(manager), foreign_world) == []
    assert snapshot(foreign_world) == before


@pytest.fixture
def colleague_world(store, other_consultant, advisor):
    """The records of a colleague's customer: invisible to a consultant of the same store."""
    customer = f.CustomerFactory(dealership=store, consultant=other_consultant)
    order = f.OrderFactory(customer=customer, consultant=other_consultant)
    return {
        "customers": customer,
        "visits": f.VisitFactory(dealership=store, customer=customer, consultant=other_consultant),
        "test-drives": f.TestDriveFactory(customer=customer, consultant=other_consultant),
        "orders": order,
        "service-visits": f.ServiceVisitFactory(customer=customer, advisor=advisor),
        "callbacks": f.CallbackFactory(order=f.OrderFactory(customer=customer, delivered_at=order.ordered_at)),
    }


def test_a_consultant_finds_nothing_of_a_colleagues_customers(colleague_world, consultant):
    before = snapshot(colleague_world)
    # Store-level records (campaigns, plans...) are the consultant's to see: only customer records are tried.
    assert foreign_failures(client_for(consultant), colleague_world, every_resource=False) == []
    assert snapshot(colleague_world) == before


def test_the_stores_manager_reads_every_record_of_his_own_store(home_world, manager):
    """The other side of the coin: the routes above do work for the objects one may see."""
    client = client_for(manager)
    failures = []
    for path in sorted({p for p, m in OPERATIONS if m == "get"}):
        response = client.get(url_for(path, key_of(home_world[resource_of(path)])))
        if response.status_code != 200:
            failures.append(f"GET {path}: {response.status_code} {response.content[:200]!r}")
    assert failures == []


def test_anonymous_requests_get_401_with_a_token_challenge(db, home_world):
    from rest_framework.test import APIClient

    for path, method in OPERATIONS:
        response = getattr(APIClient(), method)(url_for(path, key_of(home_world[resource_of(path)])
                                                         if resource_of(path) in home_world else 1))
        assert response.status_code == 401, (path, method, response.status_code)
    response = APIClient().get("/api/v1/customers/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_group_manager_sees_his_groups_stores_only(group_manager, home_world, foreign_world):
    client = client_for(group_manager)
    assert client.get(f"/api/v1/customers/{home_world['customers'].pk}/").status_code == 200
    assert client.get(f"/api/v1/customers/{foreign_world['customers'].pk}/").status_code == 404
    ids = {row["id"] for row in client.get("/api/v1/dealerships/").json()["results"]}
    assert home_world["dealerships"].pk in ids and foreign_world["dealerships"].pk not in ids


def test_world_of_builds_every_resource(store, consultant, advisor):
    assert {"customers", "orders", "callbacks"} <= set(world_of(store, consultant, advisor))

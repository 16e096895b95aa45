"""Lists: the contract's envelope over keyset pages, filters, and a query count that does not grow with
the rows (no N+1), for every list route of the schema."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from tests import factories as f
from tests.api.conftest import client_for, world_of

# Every list of the schema answers in at most this many queries (token, count, page, and one lookup
# of targets or the like), however many rows it shows.
MAX_QUERIES = 6
QUERY_PARAMS = {"/api/v1/kpis/breakdown/": "?period=2025-01"}


def list_routes() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(p for p, item in schema["paths"].items() if "{" not in p and "get" in item)


LIST_ROUTES = list_routes()


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(ctx.captured_queries)


def test_no_list_makes_more_queries_for_more_rows(manager, consultant, advisor, store):
    client = client_for(manager)
    world_of(store, consultant, advisor, n=0)
    few = {route: queries_of(client, route + QUERY_PARAMS.get(route, "")) for route in LIST_ROUTES}
    for n in range(1, 4):
        world_of(store, consultant, advisor, n=n)
    many = {route: queries_of(client, route + QUERY_PARAMS.get(route, "")) for route in LIST_ROUTES}
    assert many == few
    assert {route: count for route, count in many.items() if count > MAX_QUERIES} == {}


def test_the_customer_list_is_three_queries(manager, store, django_assert_num_queries):
    f.CustomerFactory.create_batch(5, dealership=store)
    client = client_for(manager)
    with django_assert_num_queries(3):  # the token and its user, the capped count, the page
        assert len(client.get("/api/v1/customers/").json()["results"]) == 5


def test_pages_follow_next_and_previous_without_gaps_or_repeats(manager, store):
    ids = sorted((c.pk for c in f.CustomerFactory.create_batch(7, dealership=store)), reverse=True)
    client = client_for(manager)
    page = client.get("/api/v1/customers/?page_size=3").json()
    assert page["count"] == 7 and page["count_exact"] is True and page["previous"] is None
    seen, pages = [], [page]
    while True:
        seen += [row["id"] for row in page["results"]]
        if page["next"] is None:
            break
        page = client.get(page["next"]).json()
        pages.append(page)
    assert seen == ids  # newest first, each once
    back = client.get(pages[-1]["previous"]).json()
    assert [row["id"] for row in back["results"]] == ids[3:6]
    assert [r["id"] for r in client.get("/api/v1/customers/?page_size=3&page=2").json()["results"]] == ids[3:6]


def test_page_size_is_capped_at_a_thousand(manager, store):
    f.CustomerFactory.create_batch(3, dealership=store)
    body = client_for(manager).get("/api/v1/customers/?page_size=5000").json()
    assert len(body["results"]) == 3
    from dealership.api import Pagination

    assert Pagination.max_page_size == 1000


def test_the_count_is_capped_and_said_to_be_an_estimate_above_the_limit(manager, store, monkeypatch):
    from dealership.api import Pagination

    monkeypatch.setattr(Pagination, "exact_count_limit", 4)
    f.CustomerFactory.create_batch(6, dealership=store)
    body = client_for(manager).get("/api/v1/customers/").json()
    assert len(body["results"]) == 6
    if connection.vendor == "postgresql":
        assert body["count_exact"] is False and body["count"] >= 5
    else:
        assert body["count_exact"] is True and body["count"] == 6


@pytest.mark.parametrize("query,expected", [
    ("stage=target", {"b"}), ("consultant={consultant}", {"a"}), ("from=2025-03-05&to=2025-03-05", {"b"}),
    ("phone=%2B86%20139-0000-0001", {"a"}), ("is_lost=true", set()), ("source=event", {"b"}),
])
def test_customers_are_filtered_on_their_main_fields(query, expected, manager, consultant, store):
    import datetime as dt

    f.CustomerFactory(dealership=store, name="a", consultant=consultant, phone="13900000001")
    f.CustomerFactory(dealership=store, name="b", stage="target", source="event",
                      created_at=dt.datetime(2025, 3, 5, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    url = "/api/v1/customers/?" + query.format(consultant=consultant.pk)
    assert {row["name"] for row in client_for(manager).get(url).json()["results"]} == expected


def test_a_consultant_lists_only_his_own_customers(consultant, other_consultant, store):
    mine = f.CustomerFactory(dealership=store, consultant=consultant)
    f.CustomerFactory(dealership=store, consultant=other_consultant)
    rows = client_for(consultant).get("/api/v1/customers/").json()["results"]
    assert [row["id"] for row in rows] == [mine.pk]


def test_a_foreign_store_filter_finds_nothing(manager, other_store):
    f.CustomerFactory(dealership=other_store)
    body = client_for(manager).get(f"/api/v1/customers/?dealership={other_store.pk}").json()
    assert body["count"] == 0 and body["results"] == []

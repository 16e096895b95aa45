"""The store-month's customer base is counted from the customers' (store, base date) index
(customers.models, `customer_store_base`): kpis.engine.BASE_AT must be the index's expression for the
planner to see it, and nothing but a plan says whether it does (PostgreSQL; SQLite has no narrow read of it)."""
from __future__ import annotations

import pytest
from django.db import connection

from kpis import engine
from tests.kpis.conftest import local

pytestmark = pytest.mark.django_db


def test_the_base_count_of_a_month_reads_the_base_date_index(store):
    if connection.vendor != "postgresql":
        pytest.skip("the plan of PostgreSQL")
    params = {"store": store.pk, "p": local(2025, 3, 1), "e": local(2025, 4, 1), "e12": local(2024, 5, 1)}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table would be read whole anyway
        cursor.execute("EXPLAIN " + engine.BASE_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using customer_store_base" in plan, plan
    # The range itself, not the store's whole part of the index with the expression as a filter: what a
    # BASE_AT differing from the index's expression in any way gives.
    (condition,) = [line for line in plan.splitlines() if "Index Cond" in line]
    assert "CASE WHEN" in condition, plan

"""The API list benchmark (bench/api_bench.py) at a small size, so that it cannot rot unnoticed."""
from __future__ import annotations

import pytest
from django.db import connection

from kpis.registry import KPIS


@pytest.mark.django_db
def test_the_list_benchmark_runs_at_a_small_size():
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark fills its tables with PostgreSQL's generate_series")
    from bench import api_bench

    api_bench.build(rows=2000, stores=2)
    results = api_bench.measure(runs=2)
    assert len(results) == 12
    rows = {label: n for label, _path, _who, n, _median, _p95 in results}
    assert rows["all customers, first page"] == 50 and rows["all customers, 1000 rows"] == 1000
    assert rows["KPI list: a store's year"] == 12 * len(KPIS)

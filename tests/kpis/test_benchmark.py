"""The KPI benchmark at a small size, so that the generator and the measurements cannot rot."""
from __future__ import annotations

import pytest
from django.db import connection

from bench import kpi_benchmark
from kpis.models import KpiValue


@pytest.mark.slow
@pytest.mark.django_db
def test_the_benchmark_runs_at_a_small_size_and_reports_every_figure():
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark generator writes PostgreSQL SQL")
    out = kpi_benchmark.run(stores=2, months=6, customers_per_store=300, incremental_runs=2, say=lambda _m: None)
    assert out["stores"] == 2
    assert out["lower_bound_s"] > 0 and out["full_s"] > 0 and out["ratio"] > 0
    assert out["incremental_best_ms"] > 0 and out["peak_rss_mb"] > 0
    # It measured real work: every store has every month's KPIs.
    assert KpiValue.objects.filter(person=None, code="traffic").count() >= 2 * 6
    assert out["rows_written"] > 0

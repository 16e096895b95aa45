"""KPI recompute benchmark (PostgreSQL). Documented in docs/benchmarks.md, section "KPI recompute".

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealership_kpi \\
        flock /tmp/bench.lock python bench/kpi_benchmark.py --stores 50 --months 36 --customers-per-store 40000

Measures, in one run on the same data:
- kept runs: the service visits' and stages' runs the engine keeps (kpis.visit_runs, kpis.stage_runs)
  brought up to date, a build of every store after the generator (once; reported, not part of the full
  recompute);
- full: services.recompute() of every KPI, store and month (plus campaign metrics and channel ROI), after
  a day of new service visits and stage changes (as many as the data set has a day on average), so
  that it includes bringing the kept runs of their customers up to date, as the nightly recompute does;
  the day's rows are deleted afterwards (and the kept runs refreshed again): the data set stays the same;
- lower bound: one hand-written SQL pass scanning the same fact tables once, grouped by store and month;
- incremental: services.recompute() of one store-month (the latest) after a change to it, best and median
  of several runs: before each, a new service visit and a new stage-history row of its customers, written
  now (what sets off an incremental recompute), which the recompute's refresh of the kept runs takes in;
- peak memory: ru_maxrss of this process, which is the worker doing the recompute.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lower_bound_sql(scope) -> str:
    """Every fact table the engine reads, scanned once, each row put in its store's local month (with the
    engine's own month function and calendar, so that the bound is as cheap as the engine can be)."""
    from kpis.engine import sql_month
    parts = [
        ("customers_customer", "f.created_at", "f.dealership_id", ""),
        ("customers_stagechange", "f.at", "c.dealership_id", "JOIN customers_customer c ON c.id = f.customer_id"),
        ("sales_visit", "f.occurred_at", "f.dealership_id", ""),
        ("sales_testdrive", "f.occurred_at", "f.dealership_id", ""),
        ("sales_order", "f.ordered_at", "f.dealership_id", ""),
        ("aftersales_servicevisit", "f.opened_at", "f.dealership_id", ""),
        ("aftersales_callback", "f.completed_at", "f.dealership_id", ""),
    ]
    union = "\nUNION ALL\n".join(
        f"SELECT {store} AS store, {sql_month(ts)} AS m FROM {table} f {join} JOIN {scope.calendar()} ON d.id = {store}"
        for table, ts, store, join in parts)
    return f"SELECT store, m, COUNT(*) FROM ({union}) x GROUP BY store, m"


def run(*, stores: int, months: int, customers_per_store: int, incremental_runs: int = 5,
        generate: bool = True, say=print) -> dict[str, float]:
    from django.db import connection
    from django.db.models import Count

    from bench import kpi_data
    from dealership.models import Dealership
    from kpis import engine, services

    if generate:
        kpi_data.generate(stores=stores, months=months, customers_per_store=customers_per_store, say=say)
    ids = list(Dealership.objects.filter(code__startswith="BENCH-").values_list("pk", flat=True))
    out: dict[str, float] = {"stores": len(ids)}

    scope, _stores = services._scope(ids, None)
    started = time.perf_counter()
    with engine._session_settings(engine.WIDE_SETTINGS):
        engine.kept_runs_refresh(scope.tz)
    out["kept_runs_s"] = time.perf_counter() - started
    say(f"kept runs brought up to date (a build of every store after new data): {out['kept_runs_s']:.2f} s")

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(lower_bound_sql(scope))
        groups = len(cursor.fetchall())
    out["lower_bound_s"] = time.perf_counter() - started
    say(f"lower bound (one grouped scan of the fact tables): {out['lower_bound_s']:.2f} s, {groups} store-months")

    visits, changes = _a_day_of_writes(ids, months)
    say(f"a day's writes: {len(visits)} service visits and {len(changes)} stage changes"
        f" ({len(visits) / len(ids):.0f} and {len(changes) / len(ids):.0f} a store)")
    started = time.perf_counter()
    out["rows_written"] = services.recompute(dealership_ids=ids)
    out["full_s"] = time.perf_counter() - started
    out["ratio"] = out["full_s"] / out["lower_bound_s"]
    say(f"full recompute: {out['full_s']:.2f} s, {out['rows_written']:.0f} rows; ratio {out['ratio']:.2f}")
    undo_writes(visits, changes, scope.tz)

    # The store with the most service visits: the incremental figure is its worst case, not an empty store.
    store = (Dealership.objects.filter(pk__in=ids).annotate(n=Count("service_visits")).order_by("-n", "pk").first())
    say(f"incremental store: {store.code} ({store.n} service visits)")
    period = engine.month_date(engine.month_index(time_now(store)))
    runs, written = [], []
    for _ in range(incremental_runs):
        written.append(a_change(store.pk))
        started = time.perf_counter()
        services.recompute(dealership_ids=[store.pk], periods=[period])
        runs.append(time.perf_counter() - started)
    undo_writes([v for v, _s in written], [s for _v, s in written], {store.pk: store.tzinfo})
    out["incremental_best_ms"] = min(runs) * 1000
    out["incremental_median_ms"] = statistics.median(runs) * 1000
    say(f"incremental (1 store-month after a change, {incremental_runs} runs): "
        f"best {out['incremental_best_ms']:.0f} ms, "
        f"median {out['incremental_median_ms']:.0f} ms")
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"peak memory of this worker process (ru_maxrss): {out['peak_rss_mb']:.0f} MB")
    return out


def _a_day_of_writes(ids: list[int], months: int) -> tuple[list[int], list[int]]:
    """Write a day's service visits and stage changes (the data set's daily average of each) for existing
    customers, sampled from the existing ones, in the last hours; returns their ids."""
    from django.db import connection
    share = min(100.0, 100.0 / (months * 30.4))  # percent of the rows: one day of them
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO aftersales_servicevisit (vin, kind, opened_at, closed_at, revenue, in_warranty,
                                                 dealership_id, customer_id, advisor_id)
            SELECT v.vin, v.kind, now() - random() * interval '6 hours', NULL, v.revenue, v.in_warranty,
                   v.dealership_id, v.customer_id, v.advisor_id
            FROM aftersales_servicevisit v TABLESAMPLE BERNOULLI (%s)
            WHERE v.dealership_id = ANY(%s)
            RETURNING id""", [share, ids])
        visits = [row[0] for row in cursor.fetchall()]
        cursor.execute("""
            INSERT INTO customers_stagechange (kind, from_stage, to_stage, at, reason, recorded_at, customer_id)
            SELECT s.kind, s.from_stage, s.to_stage, now() - random() * interval '6 hours', 'benchmark', now(),
                   s.customer_id
            FROM customers_stagechange s TABLESAMPLE BERNOULLI (%s)
            JOIN customers_customer c ON c.id = s.customer_id
            WHERE c.dealership_id = ANY(%s)
            RETURNING id""", [share, ids])
        return visits, [row[0] for row in cursor.fetchall()]


def a_change(store_id: int) -> tuple[int, int]:
    """Write what an incremental recompute follows, now: a service visit of one of the store's recent
    service customers (a copy of one of his, opened now) and a stage-history row of another customer (a
    copy of his latest); returns their ids. Their triggers mark both customers changed (kpis 0003)."""
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO aftersales_servicevisit (vin, kind, opened_at, closed_at, revenue, in_warranty,
                                                 dealership_id, customer_id, advisor_id)
            SELECT v.vin, v.kind, now(), NULL, v.revenue, v.in_warranty, v.dealership_id, v.customer_id, v.advisor_id
            FROM (SELECT * FROM (SELECT * FROM aftersales_servicevisit WHERE dealership_id = %s
                                 ORDER BY opened_at DESC LIMIT 500) r ORDER BY random() LIMIT 1) v
            RETURNING id""", [store_id])
        (visit,), = cursor.fetchall()
        cursor.execute("""
            INSERT INTO customers_stagechange (kind, from_stage, to_stage, at, reason, recorded_at, customer_id)
            SELECT s.kind, s.from_stage, s.to_stage, now(), 'benchmark', now(), s.customer_id
            FROM customers_stagechange s
            WHERE s.customer_id = (SELECT id FROM (SELECT id FROM customers_customer
                                                   WHERE dealership_id = %s AND stage_changed_at IS NOT NULL
                                                   ORDER BY stage_changed_at DESC LIMIT 500) r
                                   ORDER BY random() LIMIT 1)
            ORDER BY s.at DESC LIMIT 1
            RETURNING id""", [store_id])
        (change,), = cursor.fetchall()
    return visit, change


def undo_writes(visits: list[int], changes: list[int], tz: dict) -> None:
    """Delete the service visits and stage-history rows the benchmark wrote, and bring the kept runs of the
    stores `tz` names up to date again: every run starts from the same data."""
    from django.db import connection

    from kpis import engine
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM aftersales_servicevisit WHERE id = ANY(%s)", [visits])
        cursor.execute("DELETE FROM customers_stagechange WHERE id = ANY(%s)", [changes])
    with engine._session_settings(engine.WIDE_SETTINGS):
        engine.kept_runs_refresh(tz)


def time_now(store):
    from django.utils import timezone
    return timezone.now().astimezone(store.tzinfo).date()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--customers-per-store", type=int, default=40_000)
    parser.add_argument("--incremental-runs", type=int, default=5)
    parser.add_argument("--no-generate", action="store_true", help="Reuse the BENCH-* data already loaded.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealership.settings")
    import django
    django.setup()
    from django.db import connection
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the figures are PostgreSQL figures).")
    from django.core.management import call_command
    call_command("migrate", verbosity=0)  # a fresh database has no tables yet
    run(stores=args.stores, months=args.months, customers_per_store=args.customers_per_store,
        incremental_runs=args.incremental_runs, generate=not args.no_generate)


if __name__ == "__main__":
    main()

"""Time the recompute of one store-month (the incremental case: after a change to it, as
bench/kpi_benchmark.a_change writes one before each run, deleted at the end) and every SQL statement in it,
grouped by the function that ran it (docs/benchmarks.md, "KPI recompute"). PostgreSQL, on the benchmark data:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealership_kpi \\
        flock /tmp/bench.lock python bench/store_month_profile.py --store BENCH-016 --runs 9
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="BENCH-016")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--explain", type=float, metavar="MS", default=None,
                        help="after the runs, print EXPLAIN ANALYZE of the last run's statements that took MS or more")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealership.settings")
    import django
    django.setup()
    from django.db import connection

    from bench.kpi_benchmark import a_change, time_now, undo_writes
    from dealership.models import Dealership
    from kpis import engine, services

    store = Dealership.objects.get(code=args.store)
    period = engine.month_date(engine.month_index(time_now(store)))
    statements: list[tuple[str, float, str, object]] = []

    def timed(execute, sql, params, many, context):
        caller = next((f"{f.name}:{f.lineno}" for f in reversed(traceback.extract_stack()[:-1])
                       if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename
                       and f.name not in ("timed", "_rows")), "?")
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((caller, time.perf_counter() - started, sql, params))

    runs, written = [], []
    for _ in range(args.runs):
        written.append(a_change(store.pk))
        statements.clear()
        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            services.recompute(dealership_ids=[store.pk], periods=[period])
        runs.append(time.perf_counter() - started)
    undo_writes([v for v, _s in written], [s for _v, s in written], {store.pk: store.tzinfo})
    print(f"{store.code} {period:%Y-%m}: runs {[round(r * 1000) for r in runs]} ms, "
          f"median {statistics.median(runs) * 1000:.0f} ms")
    by_caller: dict[str, list[float]] = {}
    for caller, secs, _sql, _params in statements:
        by_caller.setdefault(caller, []).append(secs)
    print(f"last run: {len(statements)} statements, {sum(s[1] for s in statements) * 1000:.1f} ms in SQL "
          f"of {runs[-1] * 1000:.1f} ms")
    for caller, times in sorted(by_caller.items(), key=lambda item: -sum(item[1])):
        print(f"{sum(times) * 1000:8.1f} ms {len(times):3d}x {caller}")
    if args.explain is not None:
        # The plans of the slow statements, run again as they were, with the narrow path's settings.
        with engine._session_settings(engine.NARROW_SETTINGS), connection.cursor() as cursor:
            for caller, secs, sql, params in statements:
                if secs * 1000 < args.explain or not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print(f"\n--- {caller}: {secs * 1000:.1f} ms")
                print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()

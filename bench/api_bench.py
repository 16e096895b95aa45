"""API list latency at a million rows (docs/benchmarks.md, section "API").

Fills its own PostgreSQL database with N customers and N visits (INSERT ... SELECT generate_series: the
data is made by the server, in one statement per table), then times the API's list endpoints in-process
(Django's test client, token auth, the whole request: auth, filters, capped count, keyset page, JSON).

    createdb -h 127.0.0.1 -U postgres dealership_api_bench   # once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealership_api_bench DEBUG=0 \\
        flock /tmp/bench.lock python bench/api_bench.py --rows 1000000 --stores 20 --runs 30

Run it again and it reuses the data (use --fresh to rebuild it).
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealership.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from customers.models import Customer  # noqa: E402
from dealership.models import DealerGroup, Dealership, Role, User  # noqa: E402
from kpis.registry import KPIS  # noqa: E402
from sales.models import Visit  # noqa: E402

CONSULTANTS_PER_STORE = 10


def build(rows: int, stores: int) -> None:
    """Stores, staff, `rows` customers and `rows` visits, and three years of KPI rows per store."""
    group = DealerGroup.objects.create(name="bench group")
    dealers = Dealership.objects.bulk_create(
        [Dealership(code=f"B{i:03d}", name=f"bench {i}", group=group) for i in range(stores)])
    store_ids = [d.pk for d in dealers]
    consultants = User.objects.bulk_create([
        User(username=f"bench_c{d.pk}_{j}", role=Role.CONSULTANT, dealership=d)
        for d in dealers for j in range(CONSULTANTS_PER_STORE)])
    consultant_ids = [u.pk for u in consultants]  # store i's are at i*10 .. i*10+9
    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO customers_customer (dealership_id, name, phone, source, consultant_id, stage, intent,
                is_lost, lost_reason, notes, created_at, updated_at, entered_market_at)
            SELECT (%(stores)s::bigint[])[1 + g %% %(n)s], 'customer ' || g, '139' || lpad(g::text, 8, '0'),
                   (ARRAY['walk_in','phone','online','event','referral','list','other'])[1 + g %% 7],
                   (%(cons)s::bigint[])[1 + (g %% %(n)s) * %(per)s + (g / %(n)s) %% %(per)s],
                   (ARRAY['market','potential','target','real','lifetime','loyal'])[1 + (g / 7) %% 6],
                   '', false, '', '', t, t, t
            FROM generate_series(1, %(rows)s) g,
                 LATERAL (SELECT timestamptz '2023-01-01' + (g %% 1095) * interval '1 day'
                                 + (g %% 600) * interval '1 minute' AS t) x
        """, {"stores": store_ids, "cons": consultant_ids, "n": stores, "per": CONSULTANTS_PER_STORE, "rows": rows})
        cur.execute("SELECT min(id) FROM customers_customer")
        first = cur.fetchone()[0]
        cur.execute("""
            INSERT INTO sales_visit (dealership_id, customer_id, kind, occurred_at, consultant_id, invited, notes)
            SELECT c.dealership_id, c.id, (ARRAY['showroom','offsite','phone_in','online'])[1 + c.id %% 4],
                   c.created_at + interval '2 hours', c.consultant_id, c.id %% 5 = 0, ''
            FROM customers_customer c WHERE c.id >= %(first)s
        """, {"first": first})
        codes = list(KPIS)
        cur.execute("""
            INSERT INTO kpis_kpivalue (dealership_id, period, code, value, numerator, denominator, computed_at)
            SELECT d, (date '2023-01-01' + m * interval '1 month')::date, code, random(), random() * 100, 100, now()
            FROM unnest(%(stores)s::bigint[]) d, generate_series(0, 35) m, unnest(%(codes)s::text[]) code
        """, {"stores": store_ids, "codes": codes})
        # VACUUM cannot run inside a transaction (the small run of the test suite is inside one).
        cur.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")


def cursor_after(pk: int) -> str:
    return base64.urlsafe_b64encode(f"a:{pk}".encode()).decode()


def timed(client: Client, url: str, runs: int) -> tuple[float, float, int]:
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], len(response.json()["results"])


def sql_ms(sql: str, params=(), runs: int = 5) -> float:
    samples = []
    with connection.cursor() as cur:
        for _ in range(runs):
            start = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(runs: int) -> list[tuple[str, str, str, int, float, float]]:
    """Time each list request `runs` times (after 3 warm-ups): (label, path, who, rows, median, p95)."""
    store = Dealership.objects.filter(code__startswith="B").order_by("pk").first()
    manager, _ = User.objects.get_or_create(username=f"bench_m{store.pk}", defaults={
        "role": Role.MANAGER, "dealership": store})
    root, _ = User.objects.get_or_create(username="bench_root", defaults={
        "role": Role.MANAGER, "is_superuser": True})
    clients = {who: Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=u)[0].key}")
               for who, u in (("store manager", manager), ("superuser", root))}
    first_customer = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    first_visit = Visit.objects.order_by("pk").values_list("pk", flat=True).first()
    consultant = User.objects.filter(dealership=store, role=Role.CONSULTANT).order_by("pk").first()
    cases = [
        ("superuser", "/api/v1/customers/", "all customers, first page"),
        ("superuser", f"/api/v1/customers/?cursor={cursor_after(first_customer + 100)}", "all customers, last page"),
        ("superuser", "/api/v1/customers/?page_size=1000", "all customers, 1000 rows"),
        ("store manager", "/api/v1/customers/", "one store's customers, first page"),
        ("store manager", f"/api/v1/customers/?cursor={cursor_after(first_customer + 100)}",
         "one store's customers, last page"),
        ("store manager", "/api/v1/customers/?stage=target", "?stage=target"),
        ("store manager", f"/api/v1/customers/?consultant={consultant.pk}", "?consultant="),
        ("store manager", "/api/v1/customers/?from=2024-03-01&to=2024-03-31", "?from=&to= (a month)"),
        ("superuser", "/api/v1/visits/", "all visits, first page"),
        ("superuser", f"/api/v1/visits/?cursor={cursor_after(first_visit + 100)}", "all visits, last page"),
        ("store manager", "/api/v1/visits/?from=2024-03-01&to=2024-03-31&kind=showroom", "visits of a month"),
        ("store manager", f"/api/v1/kpis/?dealership={store.pk}&from=2025-01&to=2025-12&page_size=1000",
         "KPI list: a store's year"),
    ]
    results = []
    for who, url, label in cases:
        median, p95, rows = timed(clients[who], url, runs)
        results.append((label, url.split("?")[0], who, rows, median, p95))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers, and as many visits")
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--fresh", action="store_true", help="drop the data and build it again")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "run it on PostgreSQL (DATABASE_URL)"
    call_command("migrate", verbosity=0)
    if args.fresh or Customer.objects.count() < args.rows:
        with connection.cursor() as cur:  # this database is the benchmark's own: start from nothing
            cur.execute("TRUNCATE dealership_dealergroup, dealership_dealership, dealership_user, customers_customer,"
                        " sales_visit, kpis_kpivalue CASCADE")
        started = time.perf_counter()
        build(args.rows, args.stores)
        print(f"built {args.rows:,} customers and {args.rows:,} visits in {time.perf_counter() - started:.0f} s")
    print(f"| request ({args.rows:,} customers, {args.rows:,} visits, {args.stores} stores) | path | who | rows "
          "| median ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    for label, path, who, rows, median, p95 in measure(args.runs):
        print(f"| {label} | `{path}` | {who} | {rows} | {median:.1f} | {p95:.1f} |")
    # What page numbers would cost instead: an exact COUNT(*) and an OFFSET to the last page.
    count_ms = sql_ms("SELECT count(*) FROM customers_customer")
    offset_ms = sql_ms("SELECT id FROM customers_customer ORDER BY id DESC OFFSET %s LIMIT 50", (args.rows - 50,))
    print(f"\nFor comparison, plain SQL on the same table: an exact COUNT(*) of all customers {count_ms:.0f} ms, "
          f"the last page by OFFSET {offset_ms:.0f} ms (the keyset pages above need neither).")


if __name__ == "__main__":
    main()

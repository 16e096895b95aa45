"""Benchmark data for the set-based import: a store with N customers and a CSV of M repair orders.

    DATABASE_URL=postgres://... python bench/import_service_visits.py --customers 200000 --rows 1000000 \
        --out /tmp/service-visits-1m.csv
    DATABASE_URL=postgres://... flock /tmp/bench.lock /usr/bin/time -v \
        python manage.py import_records service_visits /tmp/service-visits-1m.csv --dealership BENCH

The customers are written with one INSERT … SELECT generate_series (they are the import's
precondition, not what is measured); half of them are buyers, so the lifecycle moves are exercised.
The CSV uses Chinese headers and labels, as a DMS export would.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealership.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from dealership.models import Dealership, Role, User  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="/tmp/service-visits-1m.csv")
    parser.add_argument("--code", default="BENCH")
    parser.add_argument("--reset", action="store_true",
                        help="only undo a previous import: delete the store's visits and the moves they made")
    args = parser.parse_args()
    if args.reset:
        reset(args.code)
        return

    with transaction.atomic():
        store, _ = Dealership.objects.get_or_create(code=args.code, defaults={"name": "基准测试店"})
        for i in range(4):
            User.objects.get_or_create(username=f"bench-a{i}", defaults={"role": Role.ADVISOR, "dealership": store})
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM customers_customer WHERE dealership_id = %s", [store.pk])
            if cursor.fetchone()[0] < args.customers:
                cursor.execute("""
                    INSERT INTO customers_customer
                        (dealership_id, external_id, name, phone, source, stage, intent, is_lost, lost_reason, notes,
                         created_at, updated_at, entered_market_at, entered_potential_at, entered_target_at,
                         entered_real_at)
                    SELECT %(store)s, 'BC' || g, '客户' || g, (13000000000 + g)::text, 'walk_in',
                           CASE WHEN g %% 2 = 0 THEN 'real' ELSE 'potential' END, '', false, '', '',
                           t, t, t, t, CASE WHEN g %% 2 = 0 THEN t END, CASE WHEN g %% 2 = 0 THEN t END
                    FROM generate_series(1, %(n)s) g,
                         LATERAL (SELECT timestamptz '2021-01-01' + g * interval '5 min') x(t)
                    ON CONFLICT DO NOTHING
                """, {"store": store.pk, "n": args.customers})
    rng = random.Random(6)
    start = dt.datetime(2022, 1, 1, 8, 0)
    kinds = ["保养", "保养", "保养", "维修", "事故", "保修"]
    with open(args.out, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["外部编号", "门店代码", "客户编号", "服务顾问", "VIN", "维修类型", "进厂时间", "结算时间", "产值",
                         "保修期内"])
        for i in range(args.rows):
            opened = start + dt.timedelta(minutes=rng.randrange(0, 4 * 365 * 24 * 60))
            closed = opened + dt.timedelta(hours=rng.randrange(1, 30))
            writer.writerow([f"RO{i:08d}", args.code, f"BC{rng.randrange(1, args.customers + 1)}",
                             f"bench-a{i % 4}", f"LVVDB11B{i:09d}", kinds[i % 6], opened.strftime("%Y-%m-%d %H:%M"),
                             closed.strftime("%Y-%m-%d %H:%M"), f"{rng.randrange(100, 5000)}.00",
                             "是" if rng.random() < 0.4 else "否"])
    print(f"{args.rows} rows → {args.out} ({Path(args.out).stat().st_size / 1e6:.0f} MB), "
          f"{args.customers} customers in {args.code}")


def reset(code: str) -> None:
    """Put the store back as the generator left it, so that every run imports into the same state."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM dealership_dealership WHERE code = %s", [code])
        store_id = cursor.fetchone()[0]
        cursor.execute("""DELETE FROM customers_stagechange WHERE reason LIKE 'service%%' AND customer_id IN
                          (SELECT id FROM customers_customer WHERE dealership_id = %s)""", [store_id])
        cursor.execute("DELETE FROM aftersales_servicevisit WHERE dealership_id = %s", [store_id])
        cursor.execute("""UPDATE customers_customer
                          SET stage = CASE WHEN stage = 'potential' THEN stage ELSE 'real' END,
                          entered_lifetime_at = NULL, entered_loyal_at = NULL, last_contact_at = NULL,
                          first_service_at = NULL, last_service_at = NULL, last_service_2_at = NULL,
                          last_service_3_at = NULL, last_service_4_at = NULL, stage_changed_at = NULL
                          WHERE dealership_id = %s""", [store_id])
        cursor.execute("DELETE FROM dealership_stalemonth WHERE dealership_id = %s", [store_id])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE customers_customer")
        cursor.execute("VACUUM ANALYZE aftersales_servicevisit")
        # Indexes rebuilt too: an index emptied by VACUUM keeps its pages, so every run left them larger
        # (after a dozen runs the customers' KPI index was 307 MB for 200,000 rows, each of the visits'
        # 130-310 MB) and the next run slower. The heap keeps the free space VACUUM leaves, as a table
        # in use has (VACUUM FULL would pack the customers, and the import's UPDATE then moves every row
        # to a new page).
        cursor.execute("REINDEX TABLE customers_customer")
        cursor.execute("REINDEX TABLE aftersales_servicevisit")
        cursor.execute("REINDEX TABLE customers_stagechange")
    print(f"{code}: visits and their moves removed")


if __name__ == "__main__":
    main()

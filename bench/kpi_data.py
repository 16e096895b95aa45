"""A plain PostgreSQL generator of KPI benchmark data: INSERT … SELECT over generate_series, so that
millions of rows are made inside the database (no Python loop per row, no rows through the client).

Shape per store (defaults: 40,000 customers, 36 months): 60 % make contact (a linked visit), plus
anonymous traffic; 30 % test-drive; 12 % order (most delivered, 70 % with a callback); 70 % of the
customers come for service, about 7 visits each (≈ 5 service visits per customer overall, 40 % with
a callback); 8 % of the pre-purchase customers are lost. Stage history rows match the stage columns.
At 50 stores: ≈ 2 M customers, ≈ 10 M service visits, ≈ 2 M sales events (visits, test drives, orders).
Not the demo (dealership/demo): this is volume with a plausible shape, for timing only.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection

CODE_PREFIX = "BENCH"


def _exec(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def clear() -> None:
    """Drop the benchmark stores and everything under them (cascading deletes would be too slow)."""
    stores = f"(SELECT id FROM dealership_dealership WHERE code LIKE '{CODE_PREFIX}-%%')"
    customers = f"(SELECT id FROM customers_customer WHERE dealership_id IN {stores})"
    for sql in [
        f"DELETE FROM kpis_kpivalue WHERE dealership_id IN {stores}",
        f"DELETE FROM kpis_channelvalue WHERE dealership_id IN {stores}",
        f"DELETE FROM kpis_kpialert WHERE dealership_id IN {stores}",
        f"DELETE FROM kpis_recomputejob WHERE dealership_id IN {stores}",
        f"DELETE FROM kpis_campaignmetric WHERE campaign_id IN (SELECT id FROM campaigns_campaign WHERE dealership_id IN {stores})",
        f"DELETE FROM kpis_marketdata WHERE dealership_id IN {stores}",
        f"DELETE FROM kpis_satisfactionscore WHERE dealer_code LIKE '{CODE_PREFIX}-%%'",
        f"DELETE FROM dealership_stalemonth WHERE dealership_id IN {stores}",
        f"DELETE FROM aftersales_callback WHERE dealership_id IN {stores}",
        f"DELETE FROM aftersales_servicevisit WHERE dealership_id IN {stores}",
        f"DELETE FROM sales_order WHERE dealership_id IN {stores}",
        f"DELETE FROM sales_testdrive WHERE dealership_id IN {stores}",
        f"DELETE FROM sales_visit WHERE dealership_id IN {stores}",
        f"DELETE FROM customers_stagechange WHERE customer_id IN {customers}",
        f"DELETE FROM customers_customer WHERE dealership_id IN {stores}",
        # The engine's kept runs (kpis.visit_runs, kpis.stage_runs), after the rows whose triggers mark them.
        *(f"DELETE FROM kpi_{kind}_{table} WHERE dealership_id IN {stores}" for kind, tables in
          [("visit", ("months", "runs", "changed", "built")), ("stage", ("pieces", "runs", "changed", "built"))]
          for table in tables),
        f"DELETE FROM campaigns_campaigncost WHERE campaign_id IN (SELECT id FROM campaigns_campaign WHERE dealership_id IN {stores})",
        f"DELETE FROM campaigns_campaign WHERE dealership_id IN {stores}",
        f"DELETE FROM campaigns_trafficplan WHERE dealership_id IN {stores}",
        f"DELETE FROM dealership_user WHERE dealership_id IN {stores}",
        f"DELETE FROM dealership_dealership WHERE id IN {stores}",
    ]:
        _exec(sql)


def generate(*, stores: int, months: int, customers_per_store: int, seed: float = 0.42,
             say: Callable[[str], None] = print) -> dict[str, int]:
    """Write the data set; returns row counts by table."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the benchmark generator needs PostgreSQL")
    started = time.perf_counter()

    def step(name: str, sql: str, params: list | None = None) -> None:
        n = _exec(sql, params)
        say(f"[{time.perf_counter() - started:7.1f} s] {name}: {n:,} rows")

    clear()
    _exec("SELECT setseed(%s)", [seed])
    # The data ends now and starts `months` months ago (local midnights do not matter for timing).
    _exec("CREATE TEMP TABLE IF NOT EXISTS bench_span AS SELECT now() - make_interval(months => %s) AS t0, now() AS t1",
          [months])
    _exec("TRUNCATE bench_span")
    _exec("INSERT INTO bench_span SELECT date_trunc('month', now()) - make_interval(months => %s - 1), now()", [months])
    step("stores", f"""
        INSERT INTO dealership_dealership (code, name, city, brand, timezone, currency, language)
        SELECT '{CODE_PREFIX}-' || lpad(i::text, 3, '0'), '基准店' || i, 'City' || (i %% 10), 'Toyota',
               CASE WHEN i %% 10 = 0 THEN 'Asia/Urumqi' ELSE 'Asia/Shanghai' END, 'CNY', 'zh-hans'
        FROM generate_series(1, %s) i""", [stores])
    _exec("""CREATE TEMP TABLE IF NOT EXISTS bench_stores AS SELECT id, row_number() OVER (ORDER BY id) AS n
              FROM dealership_dealership WHERE false""")
    _exec("TRUNCATE bench_stores")
    _exec(f"""INSERT INTO bench_stores SELECT id, row_number() OVER (ORDER BY id) FROM dealership_dealership
              WHERE code LIKE '{CODE_PREFIX}-%%'""")
    step("staff", """
        INSERT INTO dealership_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                     is_active, date_joined, name, role, dealership_id, language)
        SELECT '!', false, 'bench' || s.n || '_' || r.role || '_' || k, '', '', '', false, true, now(), '',
               r.role, s.id, ''
        FROM bench_stores s
        CROSS JOIN (VALUES ('consultant', 10), ('advisor', 5), ('manager', 1)) r(role, cnt)
        CROSS JOIN LATERAL generate_series(1, r.cnt) k""")
    _exec("ALTER TABLE bench_stores ADD COLUMN IF NOT EXISTS cons0 bigint")
    _exec("ALTER TABLE bench_stores ADD COLUMN IF NOT EXISTS adv0 bigint")
    _exec("""UPDATE bench_stores s SET
                cons0 = (SELECT min(id) FROM dealership_user WHERE dealership_id = s.id AND role = 'consultant'),
                adv0 = (SELECT min(id) FROM dealership_user WHERE dealership_id = s.id AND role = 'advisor')""")
    # A customer's fate is drawn once (u) and its stage times follow from it.
    step("customers", """
        INSERT INTO customers_customer (name, phone, source, stage, intent, is_lost, lost_reason, notes, created_at,
            updated_at, dealership_id, consultant_id, entered_market_at, entered_potential_at, entered_target_at,
            entered_real_at, entered_lifetime_at, entered_loyal_at, lost_at)
        SELECT '', '', 'other',
               CASE WHEN u < 0.05 THEN 'loyal' WHEN u < 0.08 THEN 'lifetime' WHEN u < 0.12 THEN 'real'
                    WHEN u < 0.30 THEN 'target' WHEN u < 0.60 THEN 'potential' ELSE 'market' END,
               '', lost, CASE WHEN lost THEN '价格' ELSE '' END, '', c0, now(), sid, cons,
               c0,
               CASE WHEN u < 0.60 THEN c0 + interval '1 day' * (u * 20) END,
               CASE WHEN u < 0.30 THEN c0 + interval '1 day' * (5 + u * 40) END,
               CASE WHEN u < 0.12 THEN c0 + interval '1 day' * (20 + u * 100) END,
               CASE WHEN u < 0.08 THEN c0 + interval '1 day' * (120 + u * 900) END,
               CASE WHEN u < 0.05 THEN c0 + interval '1 day' * (400 + u * 2000) END,
               CASE WHEN lost THEN c0 + interval '1 day' * 60 END
        FROM (
            SELECT s.id AS sid, random() AS u, random() < 0.08 AS lost0,
                   s.cons0 + (random() * 9)::int AS cons,
                   b.t0 + (b.t1 - b.t0) * random() AS c0
            FROM bench_stores s CROSS JOIN bench_span b CROSS JOIN generate_series(1, %s) i
        ) x
        CROSS JOIN LATERAL (SELECT lost0 AND u >= 0.12 AND u < 0.60 AS lost) l""", [customers_per_store])
    # Times in the future (late in the span) are pulled back to now: nothing happens after the data ends.
    for stage in ("potential", "target", "real", "lifetime", "loyal"):
        _exec(f"UPDATE customers_customer SET entered_{stage}_at = LEAST(entered_{stage}_at, now() - interval '1 hour')"
              f" WHERE entered_{stage}_at > now() AND dealership_id IN (SELECT id FROM bench_stores)")
    _exec("UPDATE customers_customer SET lost_at = LEAST(lost_at, now()) WHERE lost_at IS NOT NULL "
          "AND dealership_id IN (SELECT id FROM bench_stores)")
    step("stage history", """
        INSERT INTO customers_stagechange (kind, from_stage, to_stage, at, reason, recorded_at, customer_id)
        SELECT 'move', h.from_stage, h.to_stage, h.at, 'bench', now(), c.id
        FROM customers_customer c
        CROSS JOIN LATERAL (VALUES ('', 'market', c.entered_market_at), ('market', 'potential', c.entered_potential_at),
                                   ('potential', 'target', c.entered_target_at), ('target', 'real', c.entered_real_at),
                                   ('real', 'lifetime', c.entered_lifetime_at), ('lifetime', 'loyal', c.entered_loyal_at)
                           ) h(from_stage, to_stage, at)
        WHERE c.dealership_id IN (SELECT id FROM bench_stores) AND h.at IS NOT NULL
        UNION ALL
        SELECT 'lost', c.stage, c.stage, c.lost_at, '价格', now(), c.id
        FROM customers_customer c WHERE c.dealership_id IN (SELECT id FROM bench_stores) AND c.is_lost""")
    step("visits", """
        INSERT INTO sales_visit (kind, occurred_at, invited, notes, dealership_id, customer_id, consultant_id)
        SELECT CASE WHEN r < 0.6 THEN 'showroom' WHEN r < 0.75 THEN 'phone_in' WHEN r < 0.85 THEN 'offsite'
                    ELSE 'online' END, at, r < 0.1, '', sid, cid, cons
        FROM (
            SELECT c.dealership_id AS sid, c.id AS cid, c.consultant_id AS cons, c.entered_potential_at AS at,
                   random() AS r
            FROM customers_customer c
            WHERE c.dealership_id IN (SELECT id FROM bench_stores) AND c.entered_potential_at IS NOT NULL
            UNION ALL
            SELECT s.id, NULL, NULL, b.t0 + (b.t1 - b.t0) * random(), random()
            FROM bench_stores s CROSS JOIN bench_span b CROSS JOIN generate_series(1, %s) i
        ) v""", [customers_per_store // 5])
    step("test drives", """
        INSERT INTO sales_testdrive (occurred_at, model, dealership_id, customer_id, consultant_id)
        SELECT c.entered_target_at, 'RAV4', c.dealership_id, c.id, c.consultant_id
        FROM customers_customer c
        WHERE c.dealership_id IN (SELECT id FROM bench_stores) AND c.entered_target_at IS NOT NULL""")
    step("orders", """
        INSERT INTO sales_order (model, ordered_at, delivered_at, price, gross_profit, oem_rebate, dealership_id,
                                 customer_id, consultant_id)
        SELECT 'Camry', c.entered_real_at,
               CASE WHEN c.entered_real_at + interval '20 days' < now() THEN c.entered_real_at + interval '20 days' END,
               180000, round((random() * 6000 - 1000)::numeric, 2), round((random() * 5000)::numeric, 2),
               c.dealership_id, c.id, c.consultant_id
        FROM customers_customer c
        WHERE c.dealership_id IN (SELECT id FROM bench_stores) AND c.entered_real_at IS NOT NULL""")
    step("service visits", """
        INSERT INTO aftersales_servicevisit (vin, kind, opened_at, closed_at, revenue, in_warranty, dealership_id,
                                             customer_id, advisor_id)
        SELECT '', 'maintenance', o, o + interval '5 hours', round((200 + random() * 3000)::numeric, 2),
               random() < 0.5, sid, cid, adv
        FROM (
            SELECT c.dealership_id AS sid, c.id AS cid,
                   c.created_at + (now() - interval '6 hours' - c.created_at) * random() AS o,
                   s.adv0 + (random() * 4)::int AS adv
            -- 70 percent of the customers, drawn per customer (ids interleave stores: no modulo of the id)
            FROM (SELECT * FROM customers_customer WHERE random() < 0.7
                  AND dealership_id IN (SELECT id FROM bench_stores) OFFSET 0) c
            JOIN bench_stores s ON s.id = c.dealership_id
            CROSS JOIN LATERAL generate_series(1, 1 + (random() * 12 + c.id * 0)::int) k
        ) v""")
    step("callbacks after deliveries", """
        INSERT INTO aftersales_callback (completed_at, reached, notes, dealership_id, order_id)
        SELECT o.delivered_at + interval '1 day' * (random() * 6), random() < 0.8, '', o.dealership_id, o.id
        FROM sales_order o
        WHERE o.dealership_id IN (SELECT id FROM bench_stores) AND o.delivered_at IS NOT NULL AND random() < 0.7""")
    step("callbacks after service", """
        INSERT INTO aftersales_callback (completed_at, reached, notes, dealership_id, service_visit_id)
        SELECT v.closed_at + interval '1 day' * (random() * 6), random() < 0.8, '', v.dealership_id, v.id
        FROM aftersales_servicevisit v
        WHERE v.dealership_id IN (SELECT id FROM bench_stores) AND random() < 0.4""")
    step("campaigns", """
        INSERT INTO campaigns_campaign (name, channel, starts_on, ends_on, cycle_days, budget, fixed_cost,
            variable_cost_per_attendee, reach, inquiries, invited, planned_attendees, created_at, updated_at,
            dealership_id)
        SELECT 'bench', (ARRAY['event', 'online_ads', 'social'])[1 + k %% 3], d::date, d::date + 7, 30, 100000, 30000, 200,
               10000, 300, 50, 100, now(), now(), s.id
        FROM bench_stores s CROSS JOIN bench_span b
        CROSS JOIN LATERAL generate_series(b.t0::date, b.t1::date, interval '10 days') WITH ORDINALITY g(d, k)""")
    step("campaign costs", """
        INSERT INTO campaigns_campaigncost (incurred_on, amount, category, campaign_id)
        SELECT c.starts_on + k, 5000 + k * 1000, 'media', c.id
        FROM campaigns_campaign c CROSS JOIN generate_series(0, 1) k
        WHERE c.dealership_id IN (SELECT id FROM bench_stores)""")
    step("campaign leads", """
        UPDATE customers_customer c SET campaign_id = x.cid
        FROM (SELECT c2.id, (SELECT k.id FROM campaigns_campaign k WHERE k.dealership_id = c2.dealership_id
                             AND k.starts_on <= c2.created_at::date ORDER BY k.starts_on DESC LIMIT 1) AS cid
              FROM customers_customer c2
              WHERE c2.dealership_id IN (SELECT id FROM bench_stores) AND random() < 0.2) x
        WHERE c.id = x.id""")
    step("traffic plans", """
        INSERT INTO campaigns_trafficplan (period, planned_traffic, dealership_id)
        SELECT m::date, 400 + (random() * 200)::int, s.id
        FROM bench_stores s CROSS JOIN bench_span b CROSS JOIN generate_series(b.t0, b.t1, interval '1 month') m""")
    step("market data", """
        INSERT INTO kpis_marketdata (period, city_brand_sales, city_brand_stores, market_parc, dealership_id)
        SELECT m::date, 500 + (random() * 300)::int, 4, 20000, s.id
        FROM bench_stores s CROSS JOIN bench_span b CROSS JOIN generate_series(b.t0, b.t1, interval '1 month') m""")
    step("survey scores", """
        INSERT INTO kpis_satisfactionscore (survey, period, region, dealer_code, dealer_name, score)
        SELECT sv, m::date, '', d.code, '', round((850 + random() * 100)::numeric, 2)
        FROM bench_stores s JOIN dealership_dealership d ON d.id = s.id CROSS JOIN bench_span b
        CROSS JOIN generate_series(b.t0, b.t1, interval '1 month') m CROSS JOIN (VALUES ('csi'), ('ssi')) v(sv)""")
    from customers.models import LAST_SERVICES
    latest = ", ".join(f"{column} = x.latest[{k}]" for k, column in enumerate(LAST_SERVICES, 1))
    # Customer.first_delivered_at / first_service_at / LAST_SERVICES, as sales.services and
    # aftersales.services keep them.
    step("first delivery dates", """
        UPDATE customers_customer c SET first_delivered_at = x.first FROM (
            SELECT o.customer_id, MIN(o.delivered_at) AS first FROM sales_order o
            WHERE o.dealership_id IN (SELECT id FROM bench_stores) GROUP BY o.customer_id) x
        WHERE c.id = x.customer_id""")
    step("first and latest four service dates", f"""
        UPDATE customers_customer c SET first_service_at = x.first, {latest} FROM (
            SELECT v.customer_id, MIN(v.opened_at) AS first,
                   (array_agg(v.opened_at ORDER BY v.opened_at DESC))[1:4] AS latest
            FROM aftersales_servicevisit v
            WHERE v.dealership_id IN (SELECT id FROM bench_stores) GROUP BY v.customer_id) x
        WHERE c.id = x.customer_id""")
    # Order.first_callback_at / ServiceVisit.first_callback_at, as aftersales.services keep them.
    for table, subject in [("sales_order", "order_id"), ("aftersales_servicevisit", "service_visit_id")]:
        step(f"first reached callbacks of {table}", f"""
            UPDATE {table} t SET first_callback_at = f.first_at FROM (
                SELECT cb.{subject} AS subject, MIN(cb.completed_at) AS first_at FROM aftersales_callback cb
                WHERE cb.reached AND cb.{subject} IS NOT NULL AND cb.dealership_id IN (SELECT id FROM bench_stores)
                GROUP BY cb.{subject}) f
            WHERE t.id = f.subject""")
    step("latest stage changes", """
        UPDATE customers_customer c SET stage_changed_at = x.last FROM (
            SELECT s.customer_id, MAX(s.at) AS last FROM customers_stagechange s
            JOIN customers_customer c2 ON c2.id = s.customer_id
            WHERE c2.dealership_id IN (SELECT id FROM bench_stores) GROUP BY s.customer_id) x
        WHERE c.id = x.customer_id""")
    # VACUUM sets the visibility map, as autovacuum does on a live database some minutes after a bulk
    # write: without it every index-only scan of the engine's narrow path visits the heap as well.
    # (Not possible inside a transaction, as when the test suite runs the generator: then ANALYZE.)
    _exec("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
    counts = {}
    for table in ("customers_customer", "customers_stagechange", "sales_visit", "sales_testdrive", "sales_order",
                  "aftersales_servicevisit", "aftersales_callback", "campaigns_campaign"):
        counts[table] = _exec(f"SELECT 1 FROM {table} WHERE "
                              + ("customer_id IN (SELECT id FROM customers_customer WHERE dealership_id IN "
                                 "(SELECT id FROM bench_stores))" if table == "customers_stagechange"
                                 else "dealership_id IN (SELECT id FROM bench_stores)"))
    say(f"[{time.perf_counter() - started:7.1f} s] done: {counts}")
    return counts

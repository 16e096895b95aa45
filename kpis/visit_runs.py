"""The service visits' runs of months, kept between recomputes (PostgreSQL).

The customer base's window measures (active in 12/24 months, self-sold active, frequent, occasional:
kpis.md) are counts of customers per month, which the engine gets as runs of months: per visit, the
months it adds to each measure (`pieces`), counted per store, measure, start and end (`runs_by_set`).
Derived from every visit at each full recompute, that was most of its time: ten million visits sorted
by customer and windowed. So on PostgreSQL the runs are kept (kpis.kept):

- `kpi_visit_months`: per customer and store, the local months of his visits in order and the month of
  his first delivery: all a customer's runs depend on;
- `kpi_visit_runs`: the runs of all of them, counted per (store, measure, start, end): what a full
  recompute reads;
- `kpi_visit_changed`: the customers whose visits (instant, customer, store) or first delivery changed
  since, written by triggers on the two tables (migration kpis 0003), so that no writer can forget;
- `kpi_visit_built`: the stores whose runs are built, with the time zone they were built in.

`refresh` (kpis.kept) brings a store's runs up to date before they are read, so the counts are exactly
those of the visits at the time of the refresh (tests/kpis/test_visit_runs.py compares them, after every
kind of change, with a build from the visits).
"""
from __future__ import annotations

from django.db import connection

from aftersales.models import ServiceVisit
from customers.models import Customer
from kpis.kept import Kept, Zones, local_month_sql, zones_sql

SERVICE, CUSTOMER = ServiceVisit._meta.db_table, Customer._meta.db_table

# The sets of runs a visit's pieces make: (measure, start column, end column, condition).
VISIT_SETS = [("a12", "s12", "e12", "s12 <= e12"), ("a24", "s24", "e24", "s24 <= e24"),
              ("self12", "ss", "e12", "s12 <= e12 AND ss <= e12"), ("freq", "fs", "fe", "fe IS NOT NULL AND fs <= fe"),
              ("occ", "s12", "oe", "s12 <= oe")]

def later(a: str, b: str) -> str:
    return f"CASE WHEN {a} > {b} THEN {a} ELSE {b} END"


def pieces(windowed: str, joined: str = "", dm: str = "w.dm") -> str:
    """The months each visit adds to each measure, from rows (store, cid, m, p1, p3, p4, n1[, dm]) of
    visits with the months of the 1st, 3rd and 4th visit before and of the next one (window over a
    customer's visits in order); `joined`/`dm` give the customer's first delivery month.

    - a12/a24: the months it adds to "has a visit in the last 12/24 months": [max(m, p1 + W), m + W − 1]
      (empty for a second visit in the same month), so the runs of a customer are disjoint;
    - self12: a12 clipped to months from his first delivery month on;
    - freq: visits i−3..i are four in the window from m_i to m_{i−3} + 11, new months only from
      m_{i−4} + 12 on (the previous run's end + 1);
    - occ: visit i is the only one in the window between its neighbours.
    """
    fence = "OFFSET 0" if connection.vendor == "postgresql" else ""
    s12, s24 = later("w.p1 + 12", "w.m"), later("w.p1 + 24", "w.m")
    occ_e = "CASE WHEN w.n1 - 1 < w.m + 11 THEN w.n1 - 1 ELSE w.m + 11 END"
    return f"""
        SELECT r.store, r.s12, r.e12, r.s24, r.e24, r.fs, r.fe, r.oe,
               CASE WHEN r.dm IS NOT NULL THEN {later('r.dm', 'r.s12')} END AS ss
        FROM (
            SELECT w.store, {s12} AS s12, w.m + 11 AS e12, {s24} AS s24, w.m + 23 AS e24,
                   {later("w.p4 + 12", "w.m")} AS fs, w.p3 + 11 AS fe, {occ_e} AS oe, {dm} AS dm
            FROM ({windowed}) w
            {joined} {fence}
        ) r"""


def runs_by_set(source: str, sets: list[tuple[str, str, str | None, str]]) -> str:
    """(store, name, s, e, count) of the rows of `source` grouped, per set (name, start, end, condition),
    by store, start and end where the condition holds: on PostgreSQL one scan with GROUPING SETS (each set
    a small hash table), on SQLite a UNION ALL over the materialized source."""
    if connection.vendor != "postgresql":
        return f"WITH src AS MATERIALIZED ({source})\n" + "\nUNION ALL\n".join(
            f"SELECT store, '{name}', {s}, {e or 'NULL'}, COUNT(*) FROM src WHERE {cond} GROUP BY store, {s}"
            + (f", {e}" if e else "") for name, s, e, cond in sets)
    cols = [(f"k{i}", f"CASE WHEN {cond} THEN {s} END", f"x{i}", e or "CAST(NULL AS INTEGER)")
            for i, (_name, s, e, cond) in enumerate(sets)]
    which = " ".join(f"WHEN GROUPING({k}) = 0 THEN '{name}'" for (k, *_), (name, *_) in zip(cols, sets))
    return f"""
        SELECT store, CASE {which} END, COALESCE({', '.join(k for k, *_ in cols)}),
               COALESCE({', '.join(x for *_, x, _e in cols)}), COUNT(*)
        FROM (SELECT store, {', '.join(f'{ke} AS {k}, {e} AS {x}' for k, ke, x, e in cols)}
              FROM ({source}) q OFFSET 0) g
        GROUP BY GROUPING SETS ({', '.join(f'(store, {k}, {x})' for k, _ke, x, _e in cols)})
        HAVING COALESCE({', '.join(k for k, *_ in cols)}) IS NOT NULL"""


# --- kept (PostgreSQL) ----------------------------------------------------------------------------------

def read(store_ids: list[int]) -> list[tuple[int, str, int, int, int]]:
    """(store, measure, s, e, customers) of the stores' kept runs (refresh them first)."""
    return KEPT.read(store_ids, "dealership_id, measure, s, e, n")


def read_at(store_ids: list[int], months: list[int]) -> list[tuple[int, int, str, int]]:
    """(store, month, measure, customers) at each of `months` from the stores' kept runs (refresh first)."""
    return KEPT.read_at(store_ids, months, "r.measure", "r.s <= x.m AND x.m <= r.e")


def refresh(tz: Zones) -> None:
    """Bring the kept runs of the stores `tz` names (store id → its zone) up to date with their visits."""
    KEPT.refresh(tz)


def _months(tz: Zones) -> str:
    """(store, cid, months, delivered) of all the stores' customers with visits: the local months of each
    one's visits in the order of their instants, and of his first delivery."""
    return f"""
        SELECT k.store, k.cid, k.months, {local_month_sql("c.first_delivered_at")}
        FROM (
            SELECT v.dealership_id AS store, v.customer_id AS cid,
                   array_agg({local_month_sql("v.opened_at")} ORDER BY v.opened_at, v.id) AS months
            FROM {SERVICE} v JOIN {zones_sql(tz)} ON z.id = v.dealership_id
            WHERE v.dealership_id = ANY(%s)
            GROUP BY v.dealership_id, v.customer_id
        ) k
        JOIN {zones_sql(tz)} ON z.id = k.store
        LEFT JOIN {CUSTOMER} c ON c.id = k.cid"""


def _months_of_claimed(tz: Zones) -> str:
    """_months of the claimed customers (kpi_visit_claimed) only, each one's visits looked up by the
    (customer, opened_at) index (LATERAL: joined, the planner read the chunk's 4.9 M visits for 4,500
    customers, 1.1–1.7 s)."""
    return f"""
        SELECT cl.dealership_id, cl.customer_id, k.months, {local_month_sql("c.first_delivered_at")}
        FROM kpi_visit_claimed cl
        CROSS JOIN LATERAL (
            SELECT array_agg({local_month_sql("v.opened_at")} ORDER BY v.opened_at, v.id) AS months
            FROM {SERVICE} v JOIN {zones_sql(tz)} ON z.id = v.dealership_id
            WHERE v.customer_id = cl.customer_id AND v.dealership_id = cl.dealership_id
        ) k
        JOIN {zones_sql(tz)} ON z.id = cl.dealership_id
        LEFT JOIN {CUSTOMER} c ON c.id = cl.customer_id
        WHERE k.months IS NOT NULL AND cl.dealership_id = ANY(%s)"""


def _runs(months: str, stores: str = "k") -> str:
    """(store, measure, s, e, n) of the kept months `months` (a FROM item k) of the stores, filtered on the
    table `stores` (Kept.counted)."""
    windowed = f"""
        SELECT u.store, u.cid, u.m, LAG(u.m, 1) OVER x AS p1, LAG(u.m, 3) OVER x AS p3,
               LAG(u.m, 4) OVER x AS p4, LEAD(u.m, 1) OVER x AS n1, u.dm
        FROM (
            SELECT k.dealership_id AS store, k.customer_id AS cid, k.delivered AS dm, u.m, u.i
            FROM {months} CROSS JOIN LATERAL unnest(k.months) WITH ORDINALITY AS u (m, i)
            WHERE {stores}.dealership_id = ANY(%s)
        ) u
        WINDOW x AS (PARTITION BY u.store, u.cid ORDER BY u.i)"""
    return runs_by_set(pieces(windowed), VISIT_SETS)


KEPT = Kept(prefix="kpi_visit", kept="kpi_visit_months", alias="k", key="dealership_id, measure, s, e",
            lock_class=7301, made=_months, made_for_claimed=_months_of_claimed, counted=_runs)

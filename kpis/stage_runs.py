"""The customers' stage runs, kept between recomputes (PostgreSQL): as kpis.visit_runs, for the stage
counts at each E (kpis.md, the lifecycle stages).

A state (stage, lost) set by the change at `at` holds at E(P) for the months from month(at) up to the
month before the next change's month. Losses and reactivations alternate, so the running sum of
+1 (lost) / −1 (reactivated) is the lost flag. After a customer's last change his state is his current
one (stage, is_lost), which the services keep: the same thing when the history was written in order, the
truth when an import back-dated an event. A piece is such a run while not lost, under the customer's
consultant (`person`, 0 for none) in his store; `nm` is the month of the next change (−1: none yet).

- `kpi_stage_pieces`: every customer's pieces;
- `kpi_stage_runs`: the pieces counted per (store, person, stage, m, nm): what a full recompute reads;
- `kpi_stage_changed`: the customers whose history, stage, loss, consultant or store changed since, written
  by triggers (migration kpis 0003);
- `kpi_stage_built`: the stores whose runs are built, with the time zone they were built in.
"""
from __future__ import annotations

import zoneinfo

from django.db import connection, transaction

from customers.models import Customer, StageChange
from kpis.visit_runs import build, claim, counts_moved, local_month_sql, split, stores_locked, zones_sql

CUSTOMER, HISTORY = Customer._meta.db_table, StageChange._meta.db_table
LOCK_CLASS = 7302
LOST_SUM = "SUM(CASE s.kind WHEN 'lost' THEN 1 WHEN 'reactivated' THEN -1 ELSE 0 END)"


def read(store_ids: list[int]) -> list[tuple[int, int | None, str, int, int | None, int]]:
    """(store, person, stage, m, nm, customers) of the stores' kept runs (refresh them first); person and
    nm None where none."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT dealership_id, NULLIF(person, 0), stage, m, NULLIF(nm, -1), n FROM kpi_stage_runs"
                       " WHERE dealership_id = ANY(%s)", [list(store_ids)])
        return cursor.fetchall()


def refresh(tz: dict[int, zoneinfo.ZoneInfo]) -> None:
    """Bring the kept stage runs of the stores `tz` names (store id → its zone) up to date."""
    with transaction.atomic(), connection.cursor() as cursor:
        stores_locked(cursor, list(tz), LOCK_CLASS)
        rebuild, rest = split(cursor, tz, "kpi_stage_built", "kpi_stage_changed", "kpi_stage_pieces")
        if rebuild:
            _build(cursor, {s: tz[s] for s in rebuild})
        if rest:
            _refresh_changed(cursor, {s: tz[s] for s in rest})


def pieces(zone_join: str, month: str, where: str, claimed: str = "") -> str:
    """(store, cid, person, stage, m, nm) of every piece of the customers `where` selects (joined to
    `claimed`), from each one's history in order (a window per customer) and his current state;
    `zone_join` joins the store's zone that `month` (SQL of the local month of s.at) reads."""
    last = "LEAD(s.id) OVER w IS NULL"
    return f"""
        SELECT h.store, h.cid, h.person, h.stage, h.m, h.nm
        FROM (
            SELECT s.store, s.cid, s.person, s.m, LEAD(s.m) OVER w AS nm,
                   CASE WHEN {last} THEN s.stage_now ELSE s.to_stage END AS stage,
                   CASE WHEN {last} THEN s.lost_now ELSE {LOST_SUM} OVER w END AS lost
            FROM (
                SELECT s.id, s.customer_id AS cid, s.at, s.kind, s.to_stage, c.dealership_id AS store,
                       c.consultant_id AS person, c.stage AS stage_now,
                       CASE WHEN c.is_lost THEN 1 ELSE 0 END AS lost_now, {month} AS m
                FROM {HISTORY} s JOIN {CUSTOMER} c ON c.id = s.customer_id {claimed} {zone_join}
                WHERE {where}
            ) s
            WINDOW w AS (PARTITION BY s.cid ORDER BY s.at, s.id)
        ) h
        WHERE h.lost = 0 AND (h.nm IS NULL OR h.nm > h.m)"""


def _pieces(tz: dict[int, zoneinfo.ZoneInfo], claimed: str = "") -> str:
    """The pieces of the stores' customers (of those `claimed` joins) as kpi_stage_pieces holds them."""
    made = pieces(f"JOIN {zones_sql(tz)} ON z.id = c.dealership_id", local_month_sql("s.at"),
                  f"{'cl' if claimed else 'c'}.dealership_id = ANY(%s)", claimed)  # as visit_runs._months
    return f"SELECT p.store, p.cid, COALESCE(p.person, 0), p.stage, p.m, COALESCE(p.nm, -1) FROM ({made}) p"


def _runs(pieces_from: str, stores: str = "p") -> str:
    """(store, person, stage, m, nm, n): the pieces `pieces_from` (a FROM item p) of the stores (filtered on
    the table `stores`) counted."""
    return f"""
        SELECT p.dealership_id, p.person, p.stage, p.m, p.nm, COUNT(*) FROM {pieces_from}
        WHERE {stores}.dealership_id = ANY(%s) GROUP BY p.dealership_id, p.person, p.stage, p.m, p.nm"""


def _build(cursor, tz: dict[int, zoneinfo.ZoneInfo]) -> None:
    """The stores' kept pieces and runs from their customers' whole histories."""
    build(cursor, tz, "kpi_stage", "kpi_stage_pieces", [
        f"INSERT INTO kpi_stage_pieces {_pieces(tz)}", f"INSERT INTO kpi_stage_runs {_runs('kpi_stage_pieces p')}"])


def _refresh_changed(cursor, tz: dict[int, zoneinfo.ZoneInfo]) -> None:
    """The changed customers' pieces made again into a temporary table, the counts moved by their new
    pieces less their old ones, then their kept pieces replaced."""
    ids = sorted(tz)
    claim(cursor, "kpi_stage_changed", "kpi_stage_claimed", ids)
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS kpi_stage_new (LIKE kpi_stage_pieces) ON COMMIT DELETE ROWS;"
        " TRUNCATE kpi_stage_new;"
        " INSERT INTO kpi_stage_new"
        f" {_pieces(tz, 'JOIN kpi_stage_claimed cl ON cl.dealership_id = c.dealership_id AND cl.customer_id = c.id')}",
        [ids])
    mine = "JOIN kpi_stage_claimed cl ON cl.dealership_id = p.dealership_id AND cl.customer_id = p.customer_id"
    counts_moved(cursor, "kpi_stage_runs", "dealership_id, person, stage, m, nm", _runs("kpi_stage_new p"),
                 _runs(f"kpi_stage_pieces p {mine}", "cl"), ids)
    cursor.execute("DELETE FROM kpi_stage_pieces p USING kpi_stage_claimed cl"
                   " WHERE p.dealership_id = cl.dealership_id AND p.customer_id = cl.customer_id;"
                   " INSERT INTO kpi_stage_pieces SELECT * FROM kpi_stage_new")

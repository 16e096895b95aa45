"""The customers' stage runs, kept between recomputes (PostgreSQL, by the mechanism of kpis.kept): as
kpis.visit_runs, for the stage counts at each E (kpis.md, the lifecycle stages).

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

from customers.models import Customer, StageChange
from kpis.kept import Kept, Zones, local_month_sql, zones_sql

CUSTOMER, HISTORY = Customer._meta.db_table, StageChange._meta.db_table
LOST_SUM = "SUM(CASE s.kind WHEN 'lost' THEN 1 WHEN 'reactivated' THEN -1 ELSE 0 END)"


def read(store_ids: list[int]) -> list[tuple[int, int | None, str, int, int | None, int]]:
    """(store, person, stage, m, nm, customers) of the stores' kept runs (refresh them first); person and
    nm None where none."""
    return KEPT.read(store_ids, "dealership_id, NULLIF(person, 0), stage, m, NULLIF(nm, -1), n")


def read_at(store_ids: list[int], months: list[int]) -> list[tuple[int, int, int | None, str, int]]:
    """(store, month, person, stage, customers) at each of `months` from the stores' kept runs (refresh
    them first); person None where none. A run holds from m to the month before nm (−1: still holds)."""
    return KEPT.read_at(store_ids, months, "NULLIF(r.person, 0), r.stage", "r.m <= x.m AND (r.nm = -1 OR r.nm > x.m)")


def refresh(tz: Zones) -> None:
    """Bring the kept stage runs of the stores `tz` names (store id → its zone) up to date."""
    KEPT.refresh(tz)


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


def _pieces(tz: Zones, claimed: str = "") -> str:
    """The pieces of the stores' customers (of those `claimed` joins) as kpi_stage_pieces holds them."""
    made = pieces(f"JOIN {zones_sql(tz)} ON z.id = c.dealership_id", local_month_sql("s.at"),
                  f"{'cl' if claimed else 'c'}.dealership_id = ANY(%s)", claimed)  # see Kept.counted
    return f"SELECT p.store, p.cid, COALESCE(p.person, 0), p.stage, p.m, COALESCE(p.nm, -1) FROM ({made}) p"


def _runs(pieces_from: str, stores: str = "p") -> str:
    """(store, person, stage, m, nm, n): the pieces `pieces_from` (a FROM item p) of the stores (filtered on
    the table `stores`) counted."""
    return f"""
        SELECT p.dealership_id, p.person, p.stage, p.m, p.nm, COUNT(*) FROM {pieces_from}
        WHERE {stores}.dealership_id = ANY(%s) GROUP BY p.dealership_id, p.person, p.stage, p.m, p.nm"""


KEPT = Kept(prefix="kpi_stage", kept="kpi_stage_pieces", alias="p", key="dealership_id, person, stage, m, nm",
            lock_class=7302, made=_pieces,
            made_for_claimed=lambda tz: _pieces(
                tz, "JOIN kpi_stage_claimed cl ON cl.dealership_id = c.dealership_id AND cl.customer_id = c.id"),
            counted=_runs)

"""Runs kept between recomputes (PostgreSQL): the mechanism kpis.visit_runs and kpis.stage_runs share.

Each keeps, per store, four tables under a prefix: every customer's contribution (`kept`), the runs of
all of them counted (`{prefix}_runs`, keyed by `key`, counted in n: what a full recompute reads), a row per
change written by the triggers of migration kpis 0003 (`{prefix}_changed`), and the stores built with the
time zone they were built in (`{prefix}_built`). `Kept.refresh` brings stores up to date before they are
read: the changed customers' contributions are made again into a temporary table and the counts moved by
their new runs less their old ones; a store never built, whose zone changed or with a large share of its
customers changed is built again from scratch.
"""
from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

Zones = dict[int, zoneinfo.ZoneInfo]

# A store is built again, rather than refreshed customer by customer, when more than this share of its
# kept customers changed (an import, a regenerated history): taking old runs off and adding new ones
# costs about twice what a build does.
REBUILD_SHARE = 0.25
# Up to this many changed customers a store is refreshed without counting its kept ones (a day's work).
FEW_CHANGED = 1000


def zones_sql(tz: Zones) -> str:
    return "(VALUES " + ", ".join(f"({int(s)}, '{z.key}')" for s, z in tz.items()) + ") AS z (id, tz)"


def local_month_sql(ts: str) -> str:
    """The local month index (year × 12 + month − 1) of `ts` in the zone z.tz, exact for any instant (the
    kept months outlive any scope's calendar)."""
    local = f"({ts} AT TIME ZONE z.tz)"
    return f"(EXTRACT(YEAR FROM {local}) * 12 + EXTRACT(MONTH FROM {local}) - 1)::integer"


@dataclass(frozen=True)
class Kept:
    """One kind of kept runs: its tables, and the SQL that makes its rows.

    - `made(tz)`: the kept rows of all the stores' customers (a query taking the store ids);
    - `made_for_claimed(tz)`: the same for the customers in the temporary table `{prefix}_claimed` only;
    - `counted(rows, stores)`: (key..., n) of the kept rows `rows` (a FROM item aliased `alias`) of the
      stores, filtered on the table `stores` (the claimed rows where they are joined: filtered on the big
      table, the planner read a chunk's rows whole to find a few thousand customers).
    """

    prefix: str
    kept: str
    alias: str
    key: str
    lock_class: int  # pg_advisory_xact_lock(class, store): two refreshes of a store must not interleave
    made: Callable[[Zones], str]
    made_for_claimed: Callable[[Zones], str]
    counted: Callable[..., str]

    def read(self, store_ids: list[int], columns: str) -> list[tuple]:
        """`columns` of the stores' counted runs (refresh them first)."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {self.prefix}_runs WHERE dealership_id = ANY(%s)",
                           [list(store_ids)])
            return cursor.fetchall()

    def read_at(self, store_ids: list[int], months: list[int], columns: str, covers: str) -> list[tuple]:
        """(store, month, `columns`..., n) of the stores' counted runs summed at each of `months` (month
        indexes): the runs `r` that cover a month `x.m` by the SQL `covers`. For a few months (the
        incremental recompute) a few hundred sums instead of every run of the store (refresh them first)."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT r.dealership_id, x.m, {columns}, SUM(r.n) FROM {self.prefix}_runs r"
                           f" JOIN unnest(%s::integer[]) AS x (m) ON {covers} WHERE r.dealership_id = ANY(%s)"
                           f" GROUP BY r.dealership_id, x.m, {columns}", [list(months), list(store_ids)])
            return cursor.fetchall()

    def refresh(self, tz: Zones) -> None:
        """Bring the kept runs of the stores `tz` names (store id → its zone) up to date."""
        ids = sorted(tz)
        with transaction.atomic(), connection.cursor() as cursor:
            for store in ids:  # in order, so that two refreshes of overlapping stores cannot deadlock
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [self.lock_class, store])
            rebuild, rest = self._split(cursor, tz)
            if rebuild:
                self._build(cursor, {s: tz[s] for s in rebuild})
            if rest:
                self._refresh_changed(cursor, {s: tz[s] for s in rest})

    def _split(self, cursor, tz: Zones) -> tuple[list[int], list[int]]:
        """The stores to build (never built, built in another zone, or more than REBUILD_SHARE of their kept
        customers changed) and the other stores with changed customers to refresh."""
        ids = sorted(tz)
        cursor.execute(f"SELECT dealership_id, timezone FROM {self.prefix}_built WHERE dealership_id = ANY(%s)",
                       [ids])
        zones = dict(cursor.fetchall())
        cursor.execute(f"SELECT dealership_id, COUNT(DISTINCT customer_id) FROM {self.prefix}_changed"
                       " WHERE dealership_id = ANY(%s) GROUP BY dealership_id", [ids])
        counts = dict(cursor.fetchall())
        many = [s for s, n in counts.items() if n > FEW_CHANGED]
        customers = {}
        if many:
            cursor.execute(f"SELECT dealership_id, COUNT(DISTINCT customer_id) FROM {self.kept}"
                           " WHERE dealership_id = ANY(%s) GROUP BY dealership_id", [many])
            customers = dict(cursor.fetchall())
        rebuild = [s for s in ids if zones.get(s) != tz[s].key
                   or (s in many and counts[s] > REBUILD_SHARE * customers.get(s, 0))]
        return rebuild, [s for s in ids if s not in rebuild and counts.get(s)]

    def _build(self, cursor, tz: Zones) -> None:
        """Empty the stores' kept rows, make them again from all their customers, and record them as built
        in their zones."""
        ids = sorted(tz)
        for table in (self.kept, f"{self.prefix}_runs", f"{self.prefix}_changed"):
            cursor.execute(f"DELETE FROM {table} WHERE dealership_id = ANY(%s)", [ids])
        cursor.execute(f"INSERT INTO {self.kept} {self.made(tz)}", [ids])
        # In key order, so a store's runs lie together on a few dozen pages instead of across the table
        # (one store's runs summed at a few months: 12 ms on the 50 stores' table as built, 4 ms in key
        # order, 2026-12-07); the tables' fill factor (kpis 0004) keeps refreshed counts on their page.
        counted = self.counted(f"{self.kept} {self.alias}")
        cursor.execute(f"INSERT INTO {self.prefix}_runs ({self.key}, n)"
                       f" SELECT * FROM ({counted}) c ({self.key}, n) ORDER BY {self.key}", [ids])
        # Statistics now, not when autovacuum comes: the refreshes' plans look customers up in these tables,
        # and without them (after the first build of 50 stores) a refresh read them whole: 3.7 s, not 0.7.
        cursor.execute(f"ANALYZE {self.kept}, {self.prefix}_runs")
        cursor.execute(f"INSERT INTO {self.prefix}_built (dealership_id, timezone)"
                       " SELECT * FROM unnest(%s::bigint[], %s::text[])"
                       " ON CONFLICT (dealership_id) DO UPDATE SET timezone = EXCLUDED.timezone",
                       [ids, [tz[s].key for s in ids]])

    def _refresh_changed(self, cursor, tz: Zones) -> None:
        """The changed customers taken into `{prefix}_claimed`, their rows made again into `{prefix}_new`,
        the counts moved by the new rows' runs less the old ones', only where they differ, then their kept
        rows replaced."""
        ids = sorted(tz)
        claimed, new, a = f"{self.prefix}_claimed", f"{self.prefix}_new", self.alias
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {claimed} (dealership_id bigint, customer_id bigint)"
            f" ON COMMIT DELETE ROWS; TRUNCATE {claimed};"
            f" WITH x AS (DELETE FROM {self.prefix}_changed WHERE dealership_id = ANY(%s)"
            f" RETURNING dealership_id, customer_id) INSERT INTO {claimed} SELECT DISTINCT * FROM x;"
            f" ANALYZE {claimed};"
            f" CREATE TEMP TABLE IF NOT EXISTS {new} (LIKE {self.kept}) ON COMMIT DELETE ROWS; TRUNCATE {new};"
            f" INSERT INTO {new} {self.made_for_claimed(tz)}", [ids, ids])
        mine = f"JOIN {claimed} cl ON cl.dealership_id = {a}.dealership_id AND cl.customer_id = {a}.customer_id"
        key = self.key
        cursor.execute(f"""
            INSERT INTO {self.prefix}_runs AS r ({key}, n)
            SELECT {key}, SUM(n) FROM (
                SELECT * FROM ({self.counted(f"{new} {a}")}) a ({key}, n)
                UNION ALL
                SELECT {key}, -n FROM ({self.counted(f"{self.kept} {a} {mine}", "cl")}) b ({key}, n)
            ) d
            GROUP BY {key} HAVING SUM(n) <> 0
            ON CONFLICT ({key}) DO UPDATE SET n = r.n + EXCLUDED.n""", [ids, ids])
        cursor.execute(f"DELETE FROM {self.prefix}_runs WHERE dealership_id = ANY(%s) AND n = 0;"
                       f" DELETE FROM {self.kept} {a} USING {claimed} cl"
                       f" WHERE {a}.dealership_id = cl.dealership_id AND {a}.customer_id = cl.customer_id;"
                       f" INSERT INTO {self.kept} SELECT * FROM {new}", [ids])

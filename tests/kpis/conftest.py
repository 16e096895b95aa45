"""Helpers of the KPI tests: local instants, a recompute of one month, and reading its values."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection

from kpis import services
from kpis.models import KpiValue

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0, tz: zoneinfo.ZoneInfo = SHANGHAI) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=tz)


def month(y: int, m: int) -> dt.date:
    return dt.date(y, m, 1)


class Kpis:
    """Recompute some months of a store and read values back: kpis.value(store, 2025, 3, "traffic")."""

    def recompute(self, store, *periods: dt.date) -> int:
        return services.recompute(dealership_ids=[store.pk], periods=list(periods))

    def row(self, store, y: int, m: int, code: str, person=None) -> KpiValue:
        return KpiValue.objects.get(dealership=store, period=month(y, m), code=code, person=person)

    def value(self, store, y: int, m: int, code: str, person=None) -> float | None:
        self.recompute(store, month(y, m))
        return self.row(store, y, m, code, person).value


@pytest.fixture
def kpis() -> Kpis:
    return Kpis()


class KeptRuns:
    """The runs a module (kpis.visit_runs, kpis.stage_runs) keeps for a store, read after a refresh, or
    after a build as for a store never seen before; and how many of its customers are marked changed."""

    def __init__(self, module, prefix: str):
        self.module, self.prefix = module, prefix

    def kept(self, store) -> list[tuple]:
        return sorted(self.module.read([store.pk]), key=repr)

    def refreshed(self, store) -> list[tuple]:
        self.module.refresh({store.pk: store.tzinfo})
        return self.kept(store)

    def built(self, store) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.prefix}_built WHERE dealership_id = %s", [store.pk])
        return self.refreshed(store)

    def assert_refreshed_as_built(self, store, steps: dict) -> None:
        """After each step (name → callable writing something), its customers are marked changed, and a
        refresh moves the counts, to what a build from scratch gives."""
        for name, step in steps.items():
            before = self.kept(store)
            step()
            assert self.changed(store) > 0, name
            after = self.refreshed(store)
            assert self.changed(store) == 0, name
            assert after != before, name
            assert after == self.built(store), name

    def changed(self, store) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {self.prefix}_changed WHERE dealership_id = %s", [store.pk])
            return cursor.fetchone()[0]


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the runs are kept on PostgreSQL only (SQLite derives them in each recompute)")

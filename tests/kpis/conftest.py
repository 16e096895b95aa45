"""Helpers of the KPI tests: local instants, a recompute of one month, and reading its values."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

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

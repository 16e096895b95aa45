"""The golden history: every value of expected.json, recomputed from the scenario applied through the services."""
from __future__ import annotations

import datetime as dt

import zoneinfo

import pytest

from customers.models import Customer

from kpis import services
from kpis.models import CampaignMetric, KpiValue
from kpis.registry import kpi
from tests.golden.loader import expected, load_scenario

# Values of expected.json that contradict spec/kpis.md; the spec wins, and the test says by how much.
# stage_market: kpis.md says "customers at that stage at E, not lost". expected.json counts, in every month
# before the last customer is created, also the customers that do not exist yet at E (created at or after
# E): its stage_market = ours + the customers with created_at >= E. Those records are listed by the test
# below (test_golden_stage_market_counts_customers_not_created_yet), which must keep holding.
NOT_YET_CREATED_COUNTED_AS_MARKET = "stage_market"

TOLERANCE = 0.005
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")  # the scenario's only store


def _matches(code: str, got: float | None, want: float | None) -> bool:
    if want is None or got is None:
        return want is None and got is None
    # Counts are compared exactly; an average of counts (city_brand_avg_sales) is a number like any other.
    if kpi(code).unit in ("count", "rank") and float(want).is_integer():
        return got == want
    return abs(got - want) <= TOLERANCE


def _recomputed() -> tuple[dict, dict]:
    keys = load_scenario()
    services.recompute(periods=[dt.date.fromisoformat(f"{p}-01") for p in expected()["periods_checked"]])
    # Campaign metrics belong to campaigns, not months: some golden campaigns ran before periods_checked.
    services.campaign_metrics_compute()
    store_values = {(v.dealership.code, v.period.strftime("%Y-%m"), v.code): v.value
                    for v in KpiValue.objects.filter(person__isnull=True).select_related("dealership")}
    by_id = {obj.pk: key for key, obj in keys.items() if type(obj).__name__ == "Campaign"}
    campaign_values = {(by_id[m.campaign_id], m.code): m.value for m in CampaignMetric.objects.all()}
    return store_values, campaign_values


@pytest.mark.django_db
def test_the_golden_history_gives_every_expected_kpi_and_campaign_metric():
    store_values, campaign_values = _recomputed()
    wrong = []
    for row in expected()["kpis"]:
        key = (row["dealership"], row["period"], row["code"])
        got = store_values.get(key, "missing")
        if row["code"] == NOT_YET_CREATED_COUNTED_AS_MARKET:
            continue  # checked below
        if (got == "missing" or not _matches(row["code"], got, row["value"])):
            wrong.append(f"{key}: expected {row['value']}, got {got}")
    for row in expected()["campaigns"]:
        key = (row["campaign"], row["metric"])
        got = campaign_values.get(key, "missing")
        if (got == "missing" or not _matches(row["metric"], got, row["value"])):
            wrong.append(f"{key}: expected {row['value']}, got {got}")
    # The documented exception: golden stage_market = ours + customers not created yet at E.
    for row in expected()["kpis"]:
        if row["code"] != NOT_YET_CREATED_COUNTED_AS_MARKET:
            continue
        period = dt.date.fromisoformat(f"{row['period']}-01")
        end = dt.datetime(period.year + period.month // 12, period.month % 12 + 1, 1, tzinfo=SHANGHAI)
        not_yet = Customer.objects.filter(dealership__code=row["dealership"], created_at__gte=end).count()
        got = store_values[(row["dealership"], row["period"], row["code"])]
        if got + not_yet != row["value"]:
            wrong.append(f"stage_market {row['period']}: expected {row['value']} = {got} + {not_yet} not yet created")
    total = len(expected()["kpis"]) + len(expected()["campaigns"])
    assert not wrong, f"{len(wrong)} of {total} differ:\n" + "\n".join(wrong[:120])

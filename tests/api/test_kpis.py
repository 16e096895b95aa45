"""The KPI endpoints read the computed tables: values with their target and status, CSV, the by-person
breakdown, channels, the catalogue, campaign metrics, targets, alerts and the recompute request."""
from __future__ import annotations

import csv
import datetime as dt
import io

from dealership.models import AuditEntry
from kpis.models import KpiAlert, KpiTarget
from kpis.registry import CAMPAIGN_METRICS, KPIS
from tests import factories as f
from tests.api.conftest import client_for

MARCH = dt.date(2025, 3, 1)


def set_default(code: str, **values) -> None:
    # The defaults for every store are seeded by a data migration: set them, do not add a second one.
    KpiTarget.objects.update_or_create(dealership=None, code=code, defaults={"direction": "higher", **values})


def test_kpi_rows_carry_their_target_and_status(manager, store):
    f.KpiValueFactory(dealership=store, period=MARCH, code="traffic_achievement", value=0.75, numerator=375,
                      denominator=500)
    f.KpiValueFactory(dealership=store, period=MARCH, code="traffic", value=375)
    set_default("traffic_achievement", target=0.9, control_line=0.8)
    rows = client_for(manager).get("/api/v1/kpis/?period=2025-03&code=traffic_achievement").json()["results"]
    assert rows == [{
        "dealership": store.pk, "period": "2025-03", "code": "traffic_achievement", "person": None, "value": 0.75,
        "numerator": 375.0, "denominator": 500.0, "target": 0.9, "status": "alert",
        "computed_at": rows[0]["computed_at"],
    }]


def test_a_stores_own_target_wins_over_the_default(manager, store):
    f.KpiValueFactory(dealership=store, period=MARCH, code="traffic_achievement", value=0.85)
    set_default("traffic_achievement", target=0.9, control_line=0.8)
    f.KpiTargetFactory(dealership=store, code="traffic_achievement", target=0.8, control_line=0.7)
    row = client_for(manager).get("/api/v1/kpis/?code=traffic_achievement").json()["results"][0]
    assert (row["target"], row["status"]) == (0.8, "ok")


def test_the_csv_gives_the_same_rows(manager, store):
    for month in (1, 2, 3):
        f.KpiValueFactory(dealership=store, period=dt.date(2025, month, 1), code="orders", value=month * 10)
    client = client_for(manager)
    json_rows = client.get("/api/v1/kpis/?code=orders").json()["results"]
    response = client.get("/api/v1/kpis/?code=orders&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    csv_rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["period"], float(r["value"])) for r in csv_rows] == [(r["period"], r["value"]) for r in json_rows]
    assert AuditEntry.objects.filter(action="export", actor_id=manager.pk, model="kpis.kpivalue").count() == 1


def test_a_year_of_a_store_is_three_queries(manager, store, django_assert_num_queries):
    for month in range(1, 13):
        for code in list(KPIS)[:40]:
            f.KpiValueFactory(dealership=store, period=dt.date(2025, month, 1), code=code)
    client = client_for(manager)
    with django_assert_num_queries(4):  # the token, the capped count, the page, the targets
        body = client.get("/api/v1/kpis/?from=2025-01&to=2025-12&page_size=1000").json()
    assert body["count"] == 480 and len(body["results"]) == 480


def test_the_breakdown_lists_each_consultant(manager, consultant, other_consultant, store):
    f.KpiValueFactory(dealership=store, period=MARCH, code="orders", person=consultant, value=3)
    f.KpiValueFactory(dealership=store, period=MARCH, code="orders", person=other_consultant, value=5)
    f.KpiValueFactory(dealership=store, period=MARCH, code="orders", value=8)
    rows = client_for(manager).get("/api/v1/kpis/breakdown/?period=2025-03&code=orders&by=consultant").json()
    assert {(r["person"], r["person_name"], r["value"]) for r in rows} == {
        (consultant.pk, "王顾问", 3.0), (other_consultant.pk, "李顾问", 5.0)}


def test_a_consultant_sees_only_his_own_kpis(consultant, other_consultant, store):
    f.KpiValueFactory(dealership=store, period=MARCH, code="orders", person=consultant, value=3)
    f.KpiValueFactory(dealership=store, period=MARCH, code="orders", person=other_consultant, value=5)
    client = client_for(consultant)
    assert [r["value"] for r in client.get("/api/v1/kpis/breakdown/?period=2025-03").json()] == [3.0]
    assert [r["person"] for r in client.get("/api/v1/kpis/").json()["results"]] == [consultant.pk]


def test_channels_give_cost_profit_and_roi(manager, store):
    f.ChannelValueFactory(dealership=store, period=MARCH, channel="event", campaigns=2, cost="1000.5",
                          gross_profit="3000", roi=1.9985)
    f.ChannelValueFactory(dealership=store, period=MARCH, channel="", campaigns=2, cost="1000.5",
                          gross_profit="3000", roi=1.9985)
    rows = client_for(manager).get("/api/v1/kpis/channels/?period=2025-03").json()
    assert {r["channel"] for r in rows} == {"event", "all"}
    assert rows[0]["cost"] == 1000.5 and rows[0]["campaigns"] == 2


def test_the_catalogue_lists_every_kpi_and_campaign_metric(manager):
    rows = client_for(manager).get("/api/v1/kpis/definitions/").json()
    codes = {r["code"] for r in rows}
    assert set(KPIS) <= codes and set(CAMPAIGN_METRICS) <= codes
    assert {"code", "name", "name_zh", "unit", "direction", "description"} <= set(rows[0])


def test_campaign_metrics_come_by_code(manager, store):
    campaign = f.CampaignFactory(dealership=store)
    f.CampaignMetricFactory(campaign=campaign, code="attendees", value=9)
    body = client_for(manager).get(f"/api/v1/campaigns/{campaign.pk}/metrics/").json()
    assert body["metrics"]["attendees"] == 9.0
    assert set(CAMPAIGN_METRICS) <= set(body["metrics"])
    assert body["metrics"]["roi"] is None  # not computed yet


def test_a_manager_sets_a_store_target_but_not_the_default(manager, store):
    defaults = list(KpiTarget.objects.filter(dealership=None).values())
    client = client_for(manager)
    own = client.post("/api/v1/kpi-targets/", {"dealership": store.pk, "code": "churn_rate", "target": 0.15,
                                               "control_line": 0.2, "direction": "lower"}, format="json")
    assert own.status_code == 201
    default = client.post("/api/v1/kpi-targets/", {"dealership": None, "code": "churn_rate", "target": 0.1,
                                                   "control_line": 0.3, "direction": "lower"}, format="json")
    assert default.status_code == 400 and "dealership" in default.json()
    assert list(KpiTarget.objects.filter(dealership=None).values()) == defaults
    assert client.delete(f"/api/v1/kpi-targets/{own.json()['id']}/").status_code == 204


def test_patching_the_corrective_action_closes_an_alert(manager, store):
    alert = f.KpiAlertFactory(dealership=store)
    client = client_for(manager)
    empty = client.patch(f"/api/v1/kpi-alerts/{alert.pk}/", {"corrective_action": ""}, format="json")
    assert empty.status_code == 400 and "corrective_action" in empty.json()
    body = client.patch(f"/api/v1/kpi-alerts/{alert.pk}/", {"corrective_action": "周末加开试驾活动"},
                        format="json").json()
    assert body["closed_by"] == manager.pk and body["closed_at"] is not None
    assert KpiAlert.objects.get(pk=alert.pk).corrective_action == "周末加开试驾活动"


def test_a_consultant_may_not_close_alerts(consultant, store):
    alert = f.KpiAlertFactory(dealership=store)
    response = client_for(consultant).patch(f"/api/v1/kpi-alerts/{alert.pk}/", {"corrective_action": "x"},
                                            format="json")
    assert response.status_code == 403


def test_a_recompute_is_accepted_and_reports_its_progress(manager, store):
    f.VisitFactory(dealership=store)
    client = client_for(manager)
    response = client.post("/api/v1/kpis/recompute/", {"periods": ["2025-03"]}, format="json")
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    status = client.get(f"/api/v1/kpis/recompute/{task_id}/").json()
    assert status["state"] in ("pending", "running", "done") and 0 <= status["progress"] <= 1
    bad = client.post("/api/v1/kpis/recompute/", {"periods": ["2026-13"]}, format="json")
    assert bad.status_code == 400 and "periods" in bad.json()

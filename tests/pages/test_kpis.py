"""The manager's pages: the dashboard reads only the KPI tables, alerts get their corrective action,
targets are edited, the recompute reports progress, stores compare side by side."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kpis import views
from kpis.models import KpiAlert, KpiTarget, KpiValue
from kpis.registry import KPIS
from kpis.services import kpi_target_set
from tests.factories import (CustomerFactory, KpiAlertFactory, KpiValueFactory, OrderFactory, ServiceVisitFactory,
                             UserFactory)

MARCH = dt.date(2025, 3, 1)


def months_before(period: dt.date, n: int) -> dt.date:
    index = period.year * 12 + period.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


def seed(store, months: int, consultants=()):
    for i in range(months):
        for code in ("traffic", "traffic_achievement", "close_rate", "churn_rate", "stage_market", "capture_rate"):
            KpiValueFactory(dealership=store, period=months_before(MARCH, i), code=code, value=0.5 + i / 100)
    for person in consultants:
        KpiValueFactory(dealership=store, period=MARCH, code="close_rate", person=person, value=0.3)


def test_the_dashboard_reads_only_the_kpi_tables_in_fixed_queries(as_user, store, manager, django_assert_num_queries):
    client = as_user(manager)
    url = reverse("kpis:dashboard") + "?period=2025-03"
    for months, people in ((1, 1), (24, 6)):
        KpiValue.objects.all().delete()
        seed(store, months, [UserFactory(dealership=store) for _ in range(people)])
        # session, user, user's store, shown store, store picker, targets, values, people, channels,
        # open alerts (list and count), the idle timeout's session save (3)
        with django_assert_num_queries(14):
            assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    for hot in ("customers_customer", "sales_", "aftersales_", "campaigns_campaign"):
        assert hot not in tables


def test_a_tile_takes_the_colour_of_its_status(as_user, store, manager):
    kpi_target_set(dealership=store, code="traffic_achievement", target=0.9, control_line=0.8, direction="higher")
    KpiValueFactory(dealership=store, period=MARCH, code="traffic_achievement", value=0.72)
    KpiValueFactory(dealership=store, period=MARCH, code="orders", value=80)
    response = as_user(manager).get(reverse("kpis:dashboard"), {"period": "2025-03"})
    tiles = {t.code: t for t in response.context["tiles"]}
    assert tiles["traffic_achievement"].status == "alert"
    assert tiles["orders"].status == "none"
    assert 'data-kpi="traffic_achievement" data-status="alert"' in response.content.decode()


def test_kpi_names_come_from_the_registry_in_the_users_language(as_user, store, manager):
    KpiValueFactory(dealership=store, period=MARCH, code="close_rate", value=0.3)
    assert KPIS["close_rate"].name_zh in as_user(manager).get(reverse("kpis:dashboard")).content.decode()
    manager.language = "en"
    manager.save()
    assert KPIS["close_rate"].name in as_user(manager).get(reverse("kpis:dashboard")).content.decode()


def test_the_capability_curve_highlights_the_weakest_gate(as_user, store, manager):
    for code, value in (("capture_rate", 0.5), ("retention_rate", 0.4), ("funnel_close_rate", 0.2),
                        ("return_rate", 0.8), ("keep_rate", 0.6)):
        KpiValueFactory(dealership=store, period=MARCH, code=code, value=value)
    manager.language = "en"
    manager.save()
    funnel = as_user(manager).get(reverse("kpis:dashboard"), {"period": "2025-03"}).context["funnel"]
    assert funnel.note == f"Weakest gate: {KPIS['funnel_close_rate'].name}"


def test_every_chart_carries_its_numbers(as_user, store, manager):
    seed(store, 3, [UserFactory(dealership=store)])
    context = as_user(manager).get(reverse("kpis:dashboard"), {"period": "2025-03"}).context
    for chart in [context["funnel"], context["spread"], context["roi"], context["base"], context["rank"],
                  *context["trends"]]:
        assert chart.headers and chart.figure["data"], chart.id


def test_the_figures_are_built_once_and_again_when_a_value_or_target_changes(as_user, store, manager, monkeypatch):
    built = []
    real = views._dashboard_charts_build
    monkeypatch.setattr(views, "_dashboard_charts_build", lambda *a: built.append(1) or real(*a))
    seed(store, 3)
    client = as_user(manager)
    url = reverse("kpis:dashboard") + "?period=2025-03"

    def trend_of_march():
        trend = client.get(url).context["trends"][0]
        return trend.figure["data"][0]["y"][-1]

    assert trend_of_march() == 0.5 and len(built) == 1
    assert trend_of_march() == 0.5 and len(built) == 1  # the same rows: the same figures, not rebuilt
    KpiValue.objects.filter(period=MARCH, code="traffic_achievement").update(value=0.77)  # a recompute wrote
    assert trend_of_march() == 0.77 and len(built) == 2
    kpi_target_set(dealership=store, code="traffic_achievement", target=0.95, control_line=0.85, direction="higher")
    assert len(client.get(url).context["trends"][0].figure["data"]) == 3 and len(built) == 3
    manager.language = "en"
    manager.save()
    client.get(url)
    assert len(built) == 4  # another language, other labels


def test_an_alert_is_closed_only_with_a_corrective_action(as_user, store, manager):
    alert = KpiAlertFactory(dealership=store)
    client = as_user(manager)
    response = client.post(reverse("kpis:alert_close", args=[alert.pk]), {"corrective_action": " "})
    assert "corrective_action" in response.context["form"].errors
    alert.refresh_from_db()
    assert alert.is_open
    client.post(reverse("kpis:alert_close", args=[alert.pk]), {"corrective_action": "加开周末试驾会"})
    alert.refresh_from_db()
    assert not alert.is_open and alert.closed_by == manager


def test_another_stores_alert_and_dashboard_are_a_404(as_user, store, other_store, manager):
    alert = KpiAlertFactory(dealership=other_store)
    client = as_user(manager)
    assert client.post(reverse("kpis:alert_close", args=[alert.pk]), {"corrective_action": "x"}).status_code == 404
    assert client.get(reverse("kpis:dashboard"), {"store": other_store.pk}).status_code == 404
    assert KpiAlert.objects.get().is_open


def test_a_consultant_may_not_open_the_dashboard(as_user, consultant):
    assert as_user(consultant).get(reverse("kpis:dashboard")).status_code == 403


def test_a_target_with_its_control_line_on_the_wrong_side_is_refused(as_user, store, manager):
    client = as_user(manager)
    response = client.post(reverse("kpis:targets"), {"code": "close_rate", "target": "0.5", "control_line": "0.6",
                                                     "direction": "higher"})
    assert "control_line" in response.context["form"].errors
    client.post(reverse("kpis:targets"), {"code": "close_rate", "target": "0.5", "control_line": "0.4",
                                          "direction": "higher"})
    target = KpiTarget.objects.get(code="close_rate")
    assert (target.dealership, target.target, target.control_line) == (store, 0.5, 0.4)


def test_the_recompute_button_starts_a_job_whose_progress_can_be_polled(as_user, store, manager,
                                                                        django_capture_on_commit_callbacks):
    client = as_user(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("kpis:recompute"), {"store": store.pk})
    assert response.status_code == 202
    status = client.get(json.loads(response.content)["status_url"]).json()
    # Celery is eager in the embedded default: the job has run by the time the poll answers.
    assert status["state"] == "done" and status["progress"] == 1


def test_a_group_manager_sees_every_store_of_the_group_side_by_side(as_user, store, other_store, group_manager):
    KpiValueFactory(dealership=store, period=MARCH, code="orders", value=80)
    KpiValueFactory(dealership=other_store, period=MARCH, code="orders", value=65)
    response = as_user(group_manager).get(reverse("kpis:compare"), {"period": "2025-03"})
    rows = {s.code: cells for s, cells in response.context["rows"]}
    assert set(rows) == {"HZ001", "HZ002"}
    assert rows["HZ001"][1] == "80" and rows["HZ002"][1] == "65"


def test_lapsed_customers_are_those_of_the_base_without_a_service_visit_for_a_year(as_user, store, advisor):
    from django.utils import timezone

    now = timezone.now()
    lapsed = CustomerFactory(dealership=store, name="老客户")
    ServiceVisitFactory(customer=lapsed, opened_at=now - dt.timedelta(days=500))
    regular = CustomerFactory(dealership=store, name="常客")
    ServiceVisitFactory(customer=regular, opened_at=now - dt.timedelta(days=500))
    ServiceVisitFactory(customer=regular, opened_at=now - dt.timedelta(days=30))
    bought_long_ago = CustomerFactory(dealership=store, name="买车未回厂")
    OrderFactory(customer=bought_long_ago, ordered_at=now - dt.timedelta(days=420),
                 delivered_at=now - dt.timedelta(days=400))
    CustomerFactory(dealership=store, name="新客户")
    page = as_user(advisor).get(reverse("kpis:lapsed")).context["page"]
    assert sorted(c.name for c in page) == sorted(["老客户", "买车未回厂"])
    # longest-lapsed first by the last visit; one who never came back has none
    assert [(c.name, c.last_service_at) for c in page] == [("老客户", now - dt.timedelta(days=500)),
                                                           ("买车未回厂", None)]


@pytest.mark.parametrize("name", ["kpis:channels", "kpis:alerts", "kpis:targets", "kpis:dashboard_csv"])
def test_the_other_kpi_lists_export_csv(as_user, store, manager, name):
    KpiAlertFactory(dealership=store)
    response = as_user(manager).get(reverse(name), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")

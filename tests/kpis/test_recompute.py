"""Recompute as a job: idempotent, safe when two run at once, incremental, bounded in queries, and
requested through Celery (eager here; a real worker in test_celery_worker.py)."""
from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from aftersales.services import service_visit_create
from customers.services import customer_create
from dealership.celery import app
from dealership.models import StaleMonth
from kpis import engine, services
from kpis.models import KpiAlert, KpiTarget, KpiValue
from kpis.registry import status_of
from kpis.tasks import recompute_stale_months
from sales.services import order_create, visit_create
from tests.factories import DealershipFactory
from tests.kpis.conftest import local, month


def _rows(store) -> list[tuple]:
    return sorted(KpiValue.objects.filter(dealership=store)
                  .values_list("period", "code", "person_id", "value", "numerator", "denominator"),
                  key=repr)


def _history(store, customers: int) -> None:
    for i in range(customers):
        c = customer_create(dealership=store, created_at=local(2025, 1 + i % 3, 1 + i % 27))
        visit_create(dealership=store, kind="showroom", occurred_at=local(2025, 2, 1 + i % 27), customer=c)
        order_create(customer=c, ordered_at=local(2025, 2, 2 + i % 26), delivered_at=local(2025, 3, 1 + i % 27))
        service_visit_create(customer=c, opened_at=local(2025, 3, 2 + i % 26), closed_at=local(2025, 3, 2 + i % 26))


@pytest.mark.django_db
def test_recomputing_twice_leaves_the_same_rows(store):
    _history(store, 6)
    first = services.recompute(dealership_ids=[store.pk])
    before = _rows(store)
    second = services.recompute(dealership_ids=[store.pk])
    assert first == second and _rows(store) == before
    assert KpiValue.objects.filter(dealership=store, person=None, code="deliveries", period=month(2025, 3)).get().value == 6


@pytest.mark.django_db
def test_a_recompute_rewrites_only_the_values_that_changed(store):
    _history(store, 4)
    services.recompute(dealership_ids=[store.pk])
    before = {(r.period, r.code, r.person_id): r for r in KpiValue.objects.filter(dealership=store)}
    visit_create(dealership=store, kind="showroom", occurred_at=local(2025, 2, 20))
    services.recompute(dealership_ids=[store.pk])
    after = {(r.period, r.code, r.person_id): r for r in KpiValue.objects.filter(dealership=store)}
    assert after.keys() == before.keys()
    changed = {key for key in after if after[key].pk != before[key].pk}
    # February's traffic changes (and what is computed from it); March's traffic and February's orders do not.
    assert (month(2025, 2), "traffic", None) in changed
    assert after[(month(2025, 2), "traffic", None)].value == before[(month(2025, 2), "traffic", None)].value + 1
    assert (month(2025, 3), "traffic", None) not in changed and (month(2025, 2), "orders", None) not in changed
    for key in changed:
        assert (after[key].value, after[key].numerator, after[key].denominator) != \
            (before[key].value, before[key].numerator, before[key].denominator), key
    for key in after.keys() - changed:
        assert after[key].computed_at == before[key].computed_at, key


@pytest.mark.django_db
def test_the_query_count_of_one_store_month_does_not_grow_with_customers(store, other_store):
    _history(store, 3)
    _history(other_store, 12)
    counts = []
    for s in (store, other_store):
        services.recompute(dealership_ids=[s.pk], periods=[month(2025, 3)])  # builds the kept runs (PostgreSQL)
        with CaptureQueriesContext(connection) as ctx:
            services.recompute(dealership_ids=[s.pk], periods=[month(2025, 3)])
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    # PostgreSQL 35 (with the kept runs' refresh: a lock and two look-ups each, in a savepoint), SQLite 23.
    assert counts[0] <= 35, [q["sql"][:80] for q in ctx.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_two_recomputes_at_once_leave_one_copy_of_each_row():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel writers need PostgreSQL")
    store = DealershipFactory()
    _history(store, 5)
    errors = []

    def run():
        try:
            services.recompute(dealership_ids=[store.pk])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    once = _rows(store)
    services.recompute(dealership_ids=[store.pk])
    assert once == _rows(store)
    assert len(once) == len(set((r[0], r[1], r[2]) for r in once))


@pytest.mark.django_db
def test_a_write_marks_its_month_stale_and_the_stale_task_recomputes_from_there(store):
    _history(store, 2)
    services.recompute(dealership_ids=[store.pk], periods=[month(2025, 1), month(2025, 2), month(2025, 3)])
    StaleMonth.objects.all().delete()
    untouched = KpiValue.objects.get(dealership=store, period=month(2025, 1), code="traffic", person=None)
    visit_create(dealership=store, kind="phone_in", occurred_at=local(2025, 2, 20))
    assert list(StaleMonth.objects.values_list("period", flat=True)) == [month(2025, 2)]
    recompute_stale_months.apply()
    assert not StaleMonth.objects.exists()
    assert KpiValue.objects.get(dealership=store, period=month(2025, 2), code="traffic", person=None).value == 3
    # January was not recomputed: the same row, not a new one.
    assert KpiValue.objects.get(dealership=store, period=month(2025, 1), code="traffic", person=None).pk == untouched.pk


@pytest.mark.django_db
def test_a_recompute_request_runs_as_a_job_with_progress(store, manager, django_capture_on_commit_callbacks):
    _history(store, 2)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.recompute_request(user=manager, dealership=store, periods=[month(2025, 3)])
    job.refresh_from_db()
    assert (job.state, job.progress, job.error) == ("done", 1, "")
    assert KpiValue.objects.filter(dealership=store, period=month(2025, 3)).exists()


def _drop_broker_connections() -> None:
    # Celery caches its broker connections and producers: forget them so the new broker URL is used.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db
def test_an_unreachable_broker_fails_the_job_with_a_message(store, manager, django_capture_on_commit_callbacks):
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")
    _drop_broker_connections()
    started = time.monotonic()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.recompute_request(user=manager, dealership=store)
    finally:
        app.conf.update(saved)
        _drop_broker_connections()
    job.refresh_from_db()
    assert time.monotonic() - started < 10, "the user waited on a dead broker"
    assert job.state == "failed"
    assert "Could not queue" in job.error or "无法" in job.error


@pytest.mark.django_db
def test_the_management_command_recomputes_named_stores_and_months(store, other_store):
    _history(store, 1)
    call_command("recompute_kpis", "--dealership", store.code, "--period", "2025-03")
    assert set(KpiValue.objects.values_list("dealership_id", "period").distinct()) == {(store.pk, month(2025, 3))}


# --- targets and alerts ----------------------------------------------------------------------------------

class _T:
    def __init__(self, target, line, direction):
        self.target, self.control_line, self.direction = target, line, direction


@pytest.mark.parametrize("value,status", [(0.95, "ok"), (0.90, "ok"), (0.85, "warn"), (0.80, "warn"),
                                          (0.79, "alert"), (None, "none")])
def test_status_against_a_higher_is_better_target(value, status):
    assert status_of(value, _T(0.90, 0.80, "higher")) == status


@pytest.mark.parametrize("value,status", [(0.10, "ok"), (0.18, "warn"), (0.21, "alert")])
def test_status_against_a_lower_is_better_target(value, status):
    assert status_of(value, _T(0.15, 0.20, "lower")) == status
    assert status_of(value, None) == "none"


@pytest.mark.django_db
def test_the_default_targets_are_seeded():
    services.kpi_defaults_seed()
    defaults = {t.code: (t.target, t.direction) for t in KpiTarget.objects.filter(dealership=None)}
    assert defaults["traffic_achievement"] == (0.90, "higher")
    assert defaults["churn_rate"] == (0.15, "lower")


@pytest.mark.django_db
def test_a_target_with_its_control_line_on_the_wrong_side_is_refused(store):
    with pytest.raises(ValidationError) as err:
        services.kpi_target_set(dealership=store, code="traffic", target=100, control_line=120, direction="higher")
    assert "control_line" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.kpi_target_set(dealership=store, code="nope", target=1, control_line=1, direction="up")
    assert {"code", "direction"} <= err.value.message_dict.keys()
    assert not KpiTarget.objects.filter(dealership=store).exists()


@pytest.mark.django_db
def test_a_value_beyond_the_control_line_opens_one_alert_mails_the_managers_and_waits_for_an_action(
        store, manager, django_capture_on_commit_callbacks):
    manager.email = "boss@example.com"
    manager.save()
    services.kpi_target_set(dealership=store, code="traffic", target=10, control_line=5, direction="higher")
    visit_create(dealership=store, kind="showroom", occurred_at=local(2025, 3, 3))
    with django_capture_on_commit_callbacks(execute=True):
        services.recompute(dealership_ids=[store.pk], periods=[month(2025, 3)])
        services.recompute(dealership_ids=[store.pk], periods=[month(2025, 3)])
    alert = KpiAlert.objects.get(dealership=store, code="traffic", period=month(2025, 3))
    assert alert.is_open and alert.value == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["boss@example.com"]
    with pytest.raises(ValidationError) as err:
        services.kpi_alert_close(alert=alert, corrective_action="  ", by=manager)
    assert "corrective_action" in err.value.message_dict
    closed = services.kpi_alert_close(alert=alert, corrective_action="周末增加外展活动", by=manager)
    assert not closed.is_open and closed.closed_by == manager


@pytest.mark.django_db
def test_bad_input_is_explained_in_chinese_too(store, manager):
    from django.utils import translation
    with translation.override("zh-hans"), pytest.raises(ValidationError) as err:
        services.kpi_target_set(dealership=store, code="nope", target=1, control_line=1, direction="higher")
    assert err.value.message_dict["code"] == ["未知指标 nope。"]


@pytest.mark.django_db
def test_a_later_gate_passage_refreshes_the_cohort_rate_of_the_earlier_month(store):
    walk_in = customer_create(dealership=store, stage="potential", created_at=local(2025, 3, 3))
    services.recompute(dealership_ids=[store.pk], periods=[month(2025, m) for m in (3, 4, 5)])
    march = lambda: KpiValue.objects.get(dealership=store, period=month(2025, 3), code="retention_rate",  # noqa: E731
                                         person=None).value
    assert march() == 0
    StaleMonth.objects.all().delete()
    from sales.services import test_drive_create
    test_drive_create(customer=walk_in, occurred_at=local(2025, 5, 6))
    assert list(StaleMonth.objects.values_list("period", flat=True)) == [month(2025, 5)]
    recompute_stale_months.apply()
    assert march() == 1


@pytest.mark.django_db
def test_an_order_after_a_campaign_ended_updates_its_deals_and_its_months_channel_roi(store):
    import datetime as dt
    from decimal import Decimal

    from campaigns.services import campaign_cost_create
    from kpis.models import CampaignMetric, ChannelValue
    from tests.factories import CampaignFactory
    long_cycle = CampaignFactory(dealership=store, channel="event", starts_on=dt.date(2025, 3, 1),
                                 ends_on=dt.date(2025, 3, 20), cycle_days=30)
    short_cycle = CampaignFactory(dealership=store, channel="social", starts_on=dt.date(2025, 3, 1),
                                  ends_on=dt.date(2025, 3, 25), cycle_days=1)
    for c in (long_cycle, short_cycle):
        campaign_cost_create(campaign=c, incurred_on=dt.date(2025, 3, 2), amount=Decimal("1000"))
    lead = customer_create(dealership=store, campaign=long_cycle, created_at=local(2025, 3, 5))
    order_create(customer=lead, ordered_at=local(2025, 4, 10), gross_profit=Decimal("5000"))
    services.recompute(dealership_ids=[store.pk], periods=[month(2025, 4)])
    assert CampaignMetric.objects.get(campaign=long_cycle, code="deals").value == 1
    overall = ChannelValue.objects.get(dealership=store, period=month(2025, 3), channel="")
    assert (overall.campaigns, overall.cost, overall.gross_profit) == (2, 2000, 5000)
    assert overall.roi == pytest.approx(1.5)


@pytest.mark.django_db
def test_a_recompute_of_an_early_month_leaves_the_channel_roi_of_a_later_month_whole(store):
    """The recompute of a month reads the campaigns that start within a year after it (their fallback
    contribution looks back a year): a month a year later holds campaigns it does not read, so it must
    not rewrite that month's channel ROI over those it read (found on the 50-store data, 2026-12-07: the
    recompute of 2025-06/07 rewrote 2026-08 with one campaign of three)."""
    import datetime as dt
    from decimal import Decimal

    from campaigns.services import campaign_cost_create
    from kpis.models import ChannelValue
    from tests.factories import CampaignFactory
    _history(store, 2)  # data in 2025-03 and 2025-04
    early = CampaignFactory(dealership=store, channel="event", starts_on=dt.date(2026, 4, 20),
                            ends_on=dt.date(2026, 5, 10))
    late = CampaignFactory(dealership=store, channel="event", starts_on=dt.date(2026, 5, 5),
                           ends_on=dt.date(2026, 5, 20))
    for c in (early, late):
        campaign_cost_create(campaign=c, incurred_on=c.starts_on, amount=Decimal("1000"))
    services.recompute(dealership_ids=[store.pk])

    def may():
        row = ChannelValue.objects.get(dealership=store, period=month(2026, 5), channel="")
        return row.campaigns, row.cost

    assert may() == (2, 2000)
    services.recompute(dealership_ids=[store.pk], periods=[month(2025, 4)])  # reads campaigns starting by 2026-05
    assert may() == (2, 2000)


@pytest.mark.django_db
def test_stores_computed_in_chunks_get_the_same_rows_as_in_one_pass(store, other_store, monkeypatch):
    _history(store, 3)
    _history(other_store, 2)
    services.recompute(dealership_ids=[store.pk, other_store.pk])
    together = _rows(store) + _rows(other_store)
    monkeypatch.setattr(services, "STORES_PER_PASS", 1)
    services.recompute(dealership_ids=[store.pk, other_store.pk])
    assert _rows(store) + _rows(other_store) == together


@pytest.mark.django_db(transaction=True)
def test_chunks_run_side_by_side_on_their_own_connections_and_write_the_same_rows(monkeypatch, settings):
    if connection.vendor != "postgresql":
        pytest.skip("chunks run side by side on PostgreSQL only")
    stores = [DealershipFactory() for _ in range(3)]
    for i, store in enumerate(stores):
        _history(store, 2 + i)
    monkeypatch.setattr(services, "STORES_PER_PASS", 1)
    settings.KPI_RECOMPUTE_THREADS = 1
    expected = services.recompute(dealership_ids=[s.pk for s in stores])
    one_by_one = [_rows(s) for s in stores]
    KpiValue.objects.all().delete()

    settings.KPI_RECOMPUTE_THREADS = 2
    seen, progress = set(), []
    chunk = services._recompute_chunk

    def recorded(*args, **kwargs):
        seen.add(threading.current_thread().name)
        return chunk(*args, **kwargs)

    monkeypatch.setattr(services, "_recompute_chunk", recorded)
    written = services.recompute(dealership_ids=[s.pk for s in stores], progress=progress.append)
    assert len(seen) == 2 and all(name.startswith("kpi-recompute") for name in seen)
    assert [_rows(s) for s in stores] == one_by_one
    assert written == expected
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)


@pytest.mark.django_db
def test_inside_a_transaction_the_chunks_run_on_the_callers_connection(store, other_store, monkeypatch, settings):
    # A thread's own connection would not see the rows this transaction has not committed.
    settings.KPI_RECOMPUTE_THREADS = 2
    monkeypatch.setattr(services, "STORES_PER_PASS", 1)
    assert services._threads(2) == 1
    _history(store, 2)
    services.recompute(dealership_ids=[store.pk, other_store.pk])
    assert KpiValue.objects.filter(dealership=store, person=None, code="deliveries", period=month(2025, 3)).get().value == 2


@pytest.mark.django_db
def test_campaign_metrics_and_channel_roi_are_rewritten_only_where_they_changed(store, other_store):
    import datetime as dt
    from decimal import Decimal

    from campaigns.services import campaign_cost_create
    from kpis.models import CampaignMetric, ChannelValue
    from tests.factories import CampaignFactory
    camps = {s: [CampaignFactory(dealership=s, channel=ch, starts_on=dt.date(2025, 3, 1), ends_on=dt.date(2025, 3, 20))
                 for ch in ("event", "social")] for s in (store, other_store)}
    for cs in camps.values():
        for c in cs:
            campaign_cost_create(campaign=c, incurred_on=dt.date(2025, 3, 2), amount=Decimal("1000"))
    _history(store, 2)
    _history(other_store, 1)
    services.recompute(dealership_ids=[store.pk, other_store.pk])

    def snapshot(model):
        return {row[0]: row[1:] for row in model.objects.values_list("pk", "computed_at", *(
            ["campaign_id", "code", "value"] if model is CampaignMetric else ["dealership_id", "period", "channel", "roi"]))}

    metrics, channels = snapshot(CampaignMetric), snapshot(ChannelValue)
    changed = camps[store][0]
    campaign_cost_create(campaign=changed, incurred_on=dt.date(2025, 3, 3), amount=Decimal("500"))
    services.recompute(dealership_ids=[store.pk, other_store.pk])
    after_metrics, after_channels = snapshot(CampaignMetric), snapshot(ChannelValue)
    # Same number of rows; the rows left are the very same rows, new ones only for what moved.
    assert len(after_metrics) == len(metrics) and len(after_channels) == len(channels)
    kept = metrics.keys() & after_metrics.keys()
    assert all(after_metrics[pk] == metrics[pk] for pk in kept)
    rewritten = {(r[1], r[2]) for pk, r in after_metrics.items() if pk not in kept}
    assert rewritten == {(changed.pk, "cost"), (changed.pk, "roi")}
    assert CampaignMetric.objects.get(campaign=changed, code="cost").value == 1500
    rewritten = {(r[1], r[3]) for pk, r in after_channels.items() if pk not in channels}
    assert rewritten == {(store.pk, "event"), (store.pk, "")}  # the other store's rows are untouched
    assert ChannelValue.objects.get(dealership=store, period=month(2025, 3), channel="").cost == 2500


@pytest.mark.django_db
def test_a_recompute_of_some_months_of_several_stores_leaves_their_other_months_alone(store, other_store):
    _history(store, 2)
    _history(other_store, 3)
    services.recompute(dealership_ids=[store.pk, other_store.pk])
    before = {r.pk: r.computed_at for r in KpiValue.objects.exclude(period=month(2025, 2))}
    KpiValue.objects.filter(period=month(2025, 2)).update(value=-7)
    services.recompute(dealership_ids=[store.pk, other_store.pk], periods=[month(2025, 2)])
    assert {r.pk: r.computed_at for r in KpiValue.objects.exclude(period=month(2025, 2))} == before
    for s, n in ((store, 2), (other_store, 3)):
        assert KpiValue.objects.get(dealership=s, period=month(2025, 2), code="traffic", person=None).value == n
    assert not KpiValue.objects.filter(value=-7).exists()


@pytest.mark.django_db(transaction=True)
def test_chunks_side_by_side_run_their_passes_without_parallel_workers(monkeypatch, settings):
    # Two chunks at once keep the database's cores busy; a chunk alone may use parallel workers.
    if connection.vendor != "postgresql":
        pytest.skip("chunks run side by side on PostgreSQL only")
    stores = [DealershipFactory() for _ in range(2)]
    for store in stores:
        _history(store, 1)
    monkeypatch.setattr(services, "STORES_PER_PASS", 1)
    seen = []

    def recorded(scope, out):
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            seen.append(cursor.fetchone()[0])

    monkeypatch.setattr(engine, "PASSES", [recorded])
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        default = cursor.fetchone()[0]
    settings.KPI_RECOMPUTE_THREADS = 2
    services.recompute(dealership_ids=[s.pk for s in stores])
    settings.KPI_RECOMPUTE_THREADS = 1
    services.recompute(dealership_ids=[s.pk for s in stores])
    assert default != "0" and seen == ["0", "0", default, default]


@pytest.mark.django_db
def test_many_changed_rows_are_replaced_in_batches(store, monkeypatch):
    # SQLite takes at most 32,766 parameters a statement: stale rows are deleted a batch at a time.
    _history(store, 3)
    services.recompute(dealership_ids=[store.pk])
    KpiValue.objects.filter(dealership=store).update(value=-7)
    monkeypatch.setattr(services, "BATCH", 3)
    with CaptureQueriesContext(connection) as ctx:
        services.recompute(dealership_ids=[store.pk])
    deletes = [q for q in ctx.captured_queries if q["sql"].startswith('DELETE FROM "kpis_kpivalue"')]
    assert len(deletes) > 1
    assert not KpiValue.objects.filter(value=-7).exists()
    before = _rows(store)
    services.recompute(dealership_ids=[store.pk])
    assert _rows(store) == before

"""A Celery worker killed (`kill -9`) in the middle of a full KPI recompute: once a worker runs again, the
KPI tables are exactly those of an undisturbed run. Two recomputes of one store at once agree too.

Real pieces only: a `celery worker -P prefork -c 1` subprocess on the test Redis, a PostgreSQL database of
its own (copied from the demo template), and `kpis.services` as the application calls it.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

import psycopg2
import pytest

from tests.reliability import servers

pytestmark = [pytest.mark.slow, pytest.mark.celery_worker]

# Each KPI table without its ids and computed_at: what a dashboard would show.
SNAPSHOTS = {
    "kpi_values": "SELECT dealership_id, period, code, person_id, value, numerator, denominator FROM kpis_kpivalue"
                  " ORDER BY 1, 2, 3, 4 NULLS FIRST",
    "channel_values": "SELECT dealership_id, period, channel, campaigns, cost, gross_profit, roi"
                      " FROM kpis_channelvalue ORDER BY 1, 2, 3",
    "campaign_metrics": "SELECT campaign_id, code, value, numerator, denominator FROM kpis_campaignmetric"
                        " ORDER BY 1, 2",
    "alerts": "SELECT dealership_id, code, period, value, status FROM kpis_kpialert ORDER BY 1, 2, 3",
}
# Each unique key of the KPI tables: a duplicate would show as a count above one.
DUPLICATES = """
SELECT (SELECT count(*) FROM (SELECT 1 FROM kpis_kpivalue GROUP BY dealership_id, period, code, person_id
                              HAVING count(*) > 1) d)
     + (SELECT count(*) FROM (SELECT 1 FROM kpis_channelvalue GROUP BY dealership_id, period, channel
                              HAVING count(*) > 1) d)
     + (SELECT count(*) FROM (SELECT 1 FROM kpis_campaignmetric GROUP BY campaign_id, code
                              HAVING count(*) > 1) d)
"""
REQUEST = """
import json
from dealership.models import User
from kpis.services import recompute_request
job = recompute_request(user=User.objects.get(username="ops_manager"), dealership=None, periods=None)
print(json.dumps({"id": job.pk}))
"""


def snapshot(url: str) -> dict[str, list[tuple]]:
    return {name: servers.query(url, sql) for name, sql in SNAPSHOTS.items()}


def job_state(url: str, job_id: int) -> tuple[str, float, str]:
    return servers.query(url, "SELECT state, progress, error FROM kpis_recomputejob WHERE id = %s", (job_id,))[0]


@pytest.fixture
def kpi_engine(ops_template):
    for name in ("recompute", "recompute_request"):
        if not servers.has_hook("kpis.services", name):
            pytest.skip(f"kpis.services.{name} is not there yet (engineer kpi)")


@pytest.fixture
def undisturbed(kpi_engine, ops_database) -> tuple[str, dict]:
    """A database whose KPIs were computed once, in one piece, and what they came to."""
    url = ops_database("dealership_ops_fault")
    env = servers.app_env(url)
    servers.python(env, "from kpis.services import recompute; recompute(dealership_ids=None, periods=None)")
    expected = snapshot(url)
    assert expected["kpi_values"], "an undisturbed recompute of the demo data should write KPI values"
    return url, expected


@contextlib.contextmanager
def recompute_held_at_its_writes(url: str, env: dict[str, str], log: Path):
    """Start a worker, request a full recompute, and yield (worker, job id) once it waits to write.

    The test holds the KPI table against writers: the worker computes everything, then waits to write its
    rows. That wait is "the middle of a full recompute", reached every time however fast the machine is.
    """
    blocker = psycopg2.connect(url)
    worker = servers.celery_worker(env, log, visibility_timeout=5)
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE kpis_kpivalue IN SHARE MODE")
        job_id = json.loads(servers.python(env, REQUEST).strip().splitlines()[-1])["id"]
        servers.wait_until(lambda: servers.query(
            url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND wait_event_type = 'Lock' AND query ILIKE '%%kpis_kpivalue%%'")[0][0] > 0,
            120, what=f"the worker to reach the KPI writes (log: {log})")
        assert job_state(url, job_id)[0] == "running"
        yield worker, job_id
    except BaseException:
        servers.stop(worker, signal.SIGKILL)
        raise
    finally:
        blocker.rollback()
        blocker.close()


def make_stale(url: str) -> None:
    """Yesterday's figures, now stale: the killed run must not leave any of them, nor half of its own."""
    servers.query(url, "UPDATE kpis_kpivalue SET value = value + 1 WHERE value IS NOT NULL")
    servers.query(url, "DELETE FROM kpis_channelvalue")


def finished(url: str, job_id: int, log: Path) -> None:
    servers.wait_until(lambda: job_state(url, job_id)[0] in ("done", "failed"), 180, interval=1,
                       what=f"the redelivered recompute (log: {log})")


def test_a_worker_killed_mid_recompute_leaves_after_its_restart_the_kpis_of_an_undisturbed_run(
        undisturbed, broker, tmp_path: Path):
    url, expected = undisturbed
    make_stale(url)
    env = servers.app_env(url, redis=broker)

    with recompute_held_at_its_writes(url, env, tmp_path / "worker-1.log") as (worker, job_id):
        servers.stop(worker, signal.SIGKILL)  # kill -9, the main process and its pool child together
    assert job_state(url, job_id)[0] == "running", "a killed job cannot have finished"

    restarted = servers.celery_worker(env, tmp_path / "worker-2.log", visibility_timeout=5)
    try:
        finished(url, job_id, tmp_path / "worker-2.log")
    finally:
        servers.stop(restarted)

    assert job_state(url, job_id)[:2] == ("done", 1.0)
    assert snapshot(url) == expected
    assert servers.query(url, DUPLICATES)[0][0] == 0


def test_a_pool_process_killed_mid_recompute_is_redone_by_the_same_worker(undisturbed, broker, tmp_path: Path):
    """Only the child running the task dies (out of memory, say): the worker rejects the message back to
    the queue at once (reject_on_worker_lost) and runs it again, with no restart and no timeout to wait."""
    url, expected = undisturbed
    make_stale(url)
    env = servers.app_env(url, redis=broker)
    log = tmp_path / "worker.log"

    with recompute_held_at_its_writes(url, env, log) as (worker, job_id):
        children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 1, f"expected one pool process under the worker, found {children}"
        os.kill(int(children[0]), signal.SIGKILL)
    try:
        finished(url, job_id, log)
    finally:
        servers.stop(worker)

    assert job_state(url, job_id)[:2] == ("done", 1.0)
    assert "WorkerLostError" in log.read_text(errors="replace")
    assert snapshot(url) == expected
    assert servers.query(url, DUPLICATES)[0][0] == 0


def test_two_recomputes_of_the_same_store_at_once_write_the_same_rows_once(undisturbed):
    url, expected = undisturbed
    env = servers.app_env(url)
    store = servers.query(url, "SELECT min(dealership_id) FROM kpis_kpivalue")[0][0]
    servers.query(url, "DELETE FROM kpis_kpivalue WHERE dealership_id = %s", (store,))
    code = f"from kpis.services import recompute; recompute(dealership_ids=[{store}], periods=None)"

    both = [subprocess.Popen([servers.PYTHON, "-c", "import django; django.setup()\n" + code],
                             cwd=servers.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outcomes = []
    for proc in both:
        with contextlib.suppress(subprocess.TimeoutExpired):
            outcomes.append((proc.wait(300), proc.stderr.read()[-2000:]))
    for proc in both:
        proc.kill() if proc.poll() is None else None

    assert [code for code, _ in outcomes] == [0, 0], outcomes
    assert servers.query(url, DUPLICATES)[0][0] == 0
    assert snapshot(url) == expected

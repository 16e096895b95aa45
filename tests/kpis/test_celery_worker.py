"""A recompute sent through a real Celery worker on the real Redis broker, seen in the database."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from dealership.celery import app
from kpis import services
from kpis.models import KpiValue, RecomputeJob
from sales.services import visit_create
from tests.factories import DealershipFactory
from tests.kpis.conftest import local, month

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


def _needs(what: str) -> None:
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"REQUIRE_SERVICES=1 but {what}")
    pytest.skip(what)


@pytest.fixture
def worker_queue():
    """A worker process on a queue of its own (other suites may share the Redis database)."""
    broker = os.environ.get("TEST_REDIS_URL")
    if not broker:
        _needs("TEST_REDIS_URL is not set")
    if connection.vendor != "postgresql":
        _needs("the worker must share the test database: run on PostgreSQL (DATABASE_URL)")
    db = connection.settings_dict
    database_url = (f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                    f"/{db['NAME']}")
    queue = f"kpis-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": "",
           "DJANGO_ENV": "test", "DJANGO_SETTINGS_MODULE": "dealership.settings"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dealership", "worker", "--pool=solo", "-Q", queue,
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")}
    app.conf.update(task_always_eager=False, broker_url=broker, task_default_queue=queue)
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield proc
    finally:
        app.conf.update(saved)
        app._pool = None
        app.amqp._producer_pool = None
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.django_db(transaction=True)
def test_a_recompute_request_is_done_by_a_real_worker(worker_queue):
    store = DealershipFactory()
    visit_create(dealership=store, kind="showroom", occurred_at=local(2025, 3, 3))
    visit_create(dealership=store, kind="phone_in", occurred_at=local(2025, 3, 4))
    job = services.recompute_request(user=None, dealership=store, periods=[month(2025, 3)])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (RecomputeJob.State.DONE, RecomputeJob.State.FAILED):
            break
        assert worker_queue.poll() is None, worker_queue.stdout.read().decode()[-2000:]
        time.sleep(0.5)
    assert job.state == RecomputeJob.State.DONE, job.error or "the worker did not finish in 90 s"
    assert job.progress == 1
    assert KpiValue.objects.get(dealership=store, period=month(2025, 3), code="traffic", person=None).value == 2

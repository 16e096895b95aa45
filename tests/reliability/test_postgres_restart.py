"""PostgreSQL restarted under a running application: requests fail cleanly while it is down, work again
right after, and no record is lost or half-written.

This restarts the real, shared server, so it runs only when asked (OPS_PG_RESTART=1), in a pytest run of
its own after the main suite (bin/ci-reliability), never in the middle of other tests. Whatever happens,
the server is started again and awaited before the test ends.
"""
from __future__ import annotations

import contextlib
import os
from collections import Counter
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.reliability import servers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("OPS_PG_RESTART") != "1",
                       reason="restarts the shared PostgreSQL server: run by bin/ci-reliability (OPS_PG_RESTART=1)"),
]

# Customers created one after another, each with its 3-row history (a multi-row write), for `seconds`.
WRITER = """
import sys, time
from django.db import close_old_connections
from customers.services import customer_create
from dealership.models import Dealership
seconds = float(sys.argv[1])
store = None
ok = failed = 0
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    i += 1
    close_old_connections()  # what every request and task does first: drop a connection that died
    try:
        store = store or Dealership.objects.order_by("id").first()
        customer_create(dealership=store, name=f"重启{i}", phone=f"13700{i:06d}", stage="target")
        print(f"ok 13700{i:06d}", flush=True)
    except Exception as error:
        print(f"failed 13700{i:06d} {type(error).__name__}", flush=True)
        time.sleep(0.05)
"""


def _restart_postgres() -> None:
    cluster = servers.pg_cluster()
    if cluster is None:
        pytest.fail("pg_ctlcluster not found: this test needs the local PostgreSQL cluster")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True, timeout=120)


def _ensure_postgres_running() -> None:
    cluster = servers.pg_cluster()
    with contextlib.suppress(AssertionError):
        servers.pg_ready(timeout=20)
        return
    if cluster is not None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "start"], timeout=120)
    servers.pg_ready(timeout=60)


class ApiWriter(threading.Thread):
    """A DMS client posting new customers (each a 4-row write: customer and 3 history rows) without pause."""

    def __init__(self, base: str, token: str, store: int):
        super().__init__(daemon=True)
        self.base, self.headers, self.store = base, {"Authorization": f"Token {token}"}, store
        self.answers: list[tuple[str, object]] = []  # (phone, status or error)
        self.stopped = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stopped.is_set():
            i += 1
            phone = f"13600{i:06d}"
            try:
                status: object = requests.post(f"{self.base}/api/v1/customers/", headers=self.headers, timeout=15,
                                               json={"dealership": self.store, "name": f"接口{i}", "phone": phone,
                                                     "stage": "target"}).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            self.answers.append((phone, status))
            time.sleep(0.05)


class Poller(threading.Thread):
    """A user reloading a page and the health check without pause, noting every answer and its time."""

    def __init__(self, session: requests.Session, base: str):
        super().__init__(daemon=True)
        self.session, self.base = session, base
        self.answers: list[tuple[float, str, object, float]] = []  # (when, path, status or error, seconds)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for path in ("/", "/health/"):
                started = time.monotonic()
                try:
                    status: object = self.session.get(self.base + path, timeout=15).status_code
                except requests.RequestException as error:
                    status = type(error).__name__
                self.answers.append((started, path, status, time.monotonic() - started))
            time.sleep(0.05)


def test_a_postgres_restart_fails_requests_cleanly_and_loses_or_halves_no_record(ops_database, tmp_path: Path):
    url = ops_database("dealership_ops_pg")
    env = servers.app_env(url)
    log = tmp_path / "gunicorn.log"
    with servers.gunicorn(env, log, workers=2) as base:
        user = servers.login(base, servers.OPS_MANAGER)
        assert user.get(f"{base}/", timeout=10).status_code == 200
        poller = Poller(user, base)
        token = requests.post(f"{base}/api/v1/auth/token/", timeout=10,
                              json={"username": servers.OPS_MANAGER, "password": servers.OPS_PASSWORD}).json()
        store = servers.query(url, "SELECT dealership_id FROM dealership_user WHERE username = %s",
                              (servers.OPS_MANAGER,))[0][0]
        api_writer = ApiWriter(base, token["token"], store)
        writer = subprocess.Popen([servers.PYTHON, "-c", "import django; django.setup()\n" + WRITER, "14"],
                                  cwd=servers.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        poller.start()
        api_writer.start()
        try:
            time.sleep(3)
            restart_began = time.monotonic()
            _restart_postgres()
            servers.pg_ready(timeout=60)
            back_at = time.monotonic()
            time.sleep(6)
        finally:
            _ensure_postgres_running()
            poller.stopped.set()
            api_writer.stopped.set()
            poller.join(30)
            api_writer.join(30)
            out, err = writer.communicate(timeout=60)

        # Working again after the restart: the next page, the health check and a new login.
        assert user.get(f"{base}/", timeout=10).status_code == 200, f"see {log}"
        assert servers.login(base, servers.OPS_CONSULTANT).get(f"{base}/", timeout=10).status_code == 200

    answers = poller.answers
    # Clean failures only: an error page from the application, never a hang or a dropped connection.
    assert {status for _, _, status, _ in answers} <= {200, 500, 503}, [a for a in answers if a[2] != 200]
    assert max(seconds for *_, seconds in answers) < 15, max(answers, key=lambda a: a[3])
    # Every request that started two seconds after the server was back succeeded.
    late = [(path, status) for started, path, status, _ in answers if started > back_at + 2]
    assert late and all(status == 200 for _, status in late), late
    assert any(started >= restart_began for started, *_ in answers)

    lines = out.split()
    acknowledged = {lines[i + 1] for i, word in enumerate(lines) if word == "ok"}
    assert acknowledged, f"the writer wrote nothing: {err[-2000:]}"
    assert "failed" in out, "no write met the restart: the test did not test anything"
    # No lost write: every customer the writer was told was saved is there; no half-written one: every
    # customer there has its whole history (created → market → potential → target), none has a part.
    saved = dict(servers.query(url, "SELECT c.phone, count(h.id) FROM customers_customer c "
                                    "LEFT JOIN customers_stagechange h ON h.customer_id = c.id "
                                    "WHERE c.name LIKE '重启%%' GROUP BY c.phone"))
    assert acknowledged <= set(saved)
    assert {phone: n for phone, n in saved.items() if n != 3} == {}

    # The same over HTTP: a 201 is a customer with its whole history; an error left nothing behind.
    posted = dict(api_writer.answers)
    print("http writes:", Counter(posted.values()), "page requests:", Counter(s for _, _, s, _ in answers))
    assert set(posted.values()) <= {201, 500, 503}, posted
    assert 201 in posted.values()
    saved = dict(servers.query(url, "SELECT c.phone, count(h.id) FROM customers_customer c "
                                    "LEFT JOIN customers_stagechange h ON h.customer_id = c.id "
                                    "WHERE c.name LIKE '接口%%' GROUP BY c.phone"))
    assert {p for p, status in posted.items() if status == 201} <= set(saved)
    assert {phone: n for phone, n in saved.items() if n != 3} == {}

"""Redis down (cache and Celery broker): the CRM keeps working, and a KPI recompute request is refused or
queued with a clear answer, never dropped without a word.

The application runs under gunicorn on a database of its own, with a redis-server this test starts on a
port of its own and then stops: the shared Redis of the other tests is never touched.
"""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import redis
import requests

from tests.reliability import servers

pytestmark = pytest.mark.slow

# Service calls made inside the application's own process, as a view or the API would make them.
WRITE_A_CUSTOMER = """
from customers.models import Customer, StageChange
from customers.services import customer_create
from dealership.models import Dealership, StaleMonth
store = Dealership.objects.order_by("id").first()
outcome = "ok"
try:
    customer_create(dealership=store, name="雷迪斯", phone="13800009999", stage="target")
except Exception as error:
    outcome = f"{type(error).__name__}: {error}"
customer = Customer.objects.filter(phone="13800009999").first()
print({"outcome": outcome, "customers": Customer.objects.filter(phone="13800009999").count(),
       "history": StageChange.objects.filter(customer=customer).count() if customer else 0,
       "stale": StaleMonth.objects.filter(dealership=store).count()})
"""

REQUEST_A_RECOMPUTE = """
import json
from dealership.models import Dealership, User
from kpis.models import RecomputeJob
from kpis.services import recompute_request
store = Dealership.objects.order_by("id").first()
manager = User.objects.get(username="ops_manager")
before = set(RecomputeJob.objects.values_list("pk", flat=True))
answer = {"raised": None, "job": None}
try:
    job = recompute_request(user=manager, dealership=store, periods=None)
    answer["job"] = job.task_id
except Exception as error:
    answer["raised"] = f"{type(error).__name__}: {error}"
answer["jobs"] = [dict(task_id=j.task_id, state=j.state, error=j.error)
                  for j in RecomputeJob.objects.exclude(pk__in=before)]
print(json.dumps(answer))
"""


@pytest.fixture
def own_redis(tmp_path: Path):
    """A redis-server of our own (not the shared one), which the test may stop."""
    port = servers.free_port()
    proc = servers.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no"], {}, tmp_path / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"
    servers.wait_until(lambda: redis.Redis.from_url(url).ping(), 20, what="our redis-server")
    yield proc, url
    servers.stop(proc)


@pytest.fixture
def app_without_redis(ops_database, own_redis, tmp_path: Path):
    proc, url = own_redis
    env = servers.app_env(ops_database("dealership_ops_redis"), redis=url)
    with servers.gunicorn(env, tmp_path / "gunicorn.log") as base:
        manager = servers.login(base, servers.OPS_MANAGER)  # while Redis is still up
        servers.stop(proc, signal.SIGTERM)
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        yield base, manager, env, tmp_path / "gunicorn.log"


def _cache_get_forgets_its_default() -> bool:
    """dealership.cache.TolerantRedisCache.get answers None, not the caller's default, when Redis is down."""
    try:
        from dealership.cache import TolerantRedisCache
    except ImportError:
        return False
    dead = TolerantRedisCache(f"redis://127.0.0.1:{servers.free_port()}/0", {})
    return dead.get("ops:probe", []) is None


def test_pages_and_a_new_login_still_work_when_redis_is_down(app_without_redis):
    base, manager, _, log = app_without_redis

    assert manager.get(f"{base}/health/", timeout=15).status_code == 200
    assert manager.get(f"{base}/", timeout=15).status_code == 200, f"home page failed, see {log}"
    assert manager.get(f"{base}/customers/", timeout=15).status_code == 200, f"customer list failed, see {log}"
    # A new login too: sessions live in the database, not in Redis.
    assert servers.login(base, servers.OPS_CONSULTANT).get(f"{base}/", timeout=15).status_code == 200


@pytest.mark.xfail(condition=_cache_get_forgets_its_default(), strict=True, reason=(
    "dealership/cache.py: TolerantRedisCache.get returns None instead of the default when Redis is down; "
    "DRF's UserRateThrottle does `self.history = cache.get(key, [])` then len(None): TypeError, HTTP 500 "
    "on every API call. Fix: get's fallback must return the `default` argument."))
def test_the_api_still_answers_when_redis_is_down(app_without_redis):
    base, manager, _, log = app_without_redis
    token = requests.post(f"{base}/api/v1/auth/token/", timeout=15,
                          json={"username": servers.OPS_MANAGER, "password": servers.OPS_PASSWORD})
    assert token.status_code == 200, f"token failed, see {log}"
    api = {"Authorization": f"Token {token.json()['token']}"}

    assert manager.get(f"{base}/api/v1/", timeout=15).status_code == 200, f"API root failed, see {log}"
    assert requests.get(f"{base}/api/v1/customers/", headers=api, timeout=15).status_code == 200


def test_a_customer_written_while_redis_is_down_is_saved_whole_and_its_kpis_marked_stale(app_without_redis):
    _, _, env, _ = app_without_redis

    result = eval(servers.python(env, WRITE_A_CUSTOMER, timeout=120).strip().splitlines()[-1])  # noqa: S307

    # The write must not report a failure after it was committed (the user would enter it twice), and the
    # month it touched is in the stale ledger, so the next recompute picks it up when Redis is back.
    assert result == {"outcome": "ok", "customers": 1, "history": 3, "stale": result["stale"]}, result
    assert result["stale"] >= 1


def test_a_kpi_recompute_requested_while_redis_is_down_is_refused_with_a_reason_or_kept(app_without_redis):
    _, _, env, _ = app_without_redis
    if not servers.has_hook("kpis.services", "recompute_request"):
        pytest.skip("kpis.services.recompute_request is not there yet (engineer kpi)")

    answer = json.loads(servers.python(env, REQUEST_A_RECOMPUTE, timeout=120).strip().splitlines()[-1])

    if answer["raised"] is not None:
        # Refused: the caller got an error to show, and no job sits "pending" that no worker will ever run.
        assert all(j["state"] == "failed" and j["error"] for j in answer["jobs"]), answer
    else:
        # Accepted: then the job must say it could not be queued, not pretend to wait.
        job = next(j for j in answer["jobs"] if j["task_id"] == answer["job"])
        assert job["state"] == "failed" and job["error"], (
            f"a recompute accepted while the broker is down is lost silently: {answer}")

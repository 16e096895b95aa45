"""Real servers for the fault tests: PostgreSQL databases of our own, gunicorn, Celery workers, Redis.

The fault tests restart and kill things, so they never touch the database the rest of the suite uses:
each one copies a database of its own from a template (migrated once per session, with demo data) and
drives the application in subprocesses, exactly as it runs in production.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
OPS_PASSWORD = "ops-Reliability-2026"
# The users seed.py adds to every ops database; the load test and the page checks log in as them.
OPS_MANAGER = "ops_manager"
OPS_CONSULTANT = "ops_consultant"


def postgres_url() -> str | None:
    """The PostgreSQL server the suite runs on (DATABASE_URL), or None on the SQLite default."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def redis_url() -> str | None:
    """The Redis database the tests may use and flush (TEST_REDIS_URL; DB 7 is ops's when run by hand)."""
    return os.environ.get("OPS_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or None


def database_url(name: str) -> str:
    parts = urlsplit(postgres_url() or "postgres://postgres@127.0.0.1:5432/postgres")
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin() -> psycopg2.extensions.connection:
    parts = urlsplit(database_url("postgres"))
    conn = psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                            password=parts.password, dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    return conn


def drop_database(name: str) -> None:
    with contextlib.closing(_admin()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(name: str, template: str | None = None) -> str:
    drop_database(name)
    with contextlib.closing(_admin()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return database_url(name)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Read a database directly, not through the application under test."""
    with contextlib.closing(psycopg2.connect(url, connect_timeout=5)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows


def app_env(database: str, *, redis: str = "", **extra: str) -> dict[str, str]:
    """The environment of an application process: production-like (DEBUG off), on our own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="dealership.settings", DJANGO_ENV="development", DEBUG="0",
               DATABASE_URL=database, REDIS_URL=redis, CELERY_BROKER_URL=redis, CELERY_RESULT_BACKEND=redis,
               PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING")
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def python(env: dict[str, str], code: str, timeout: float = 600) -> str:
    """Run Django code in a fresh process against `env` (our database, not the test one)."""
    script = "import django; django.setup()\n" + code
    done = subprocess.run([PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"subprocess failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def has_hook(module: str, name: str) -> bool:
    """Whether another engineer's public function exists yet (checked in a fresh process)."""
    code = (f"import importlib, importlib.util; spec = importlib.util.find_spec({module!r}); "
            f"print(spec is not None and hasattr(importlib.import_module({module!r}), {name!r}))")
    return python(app_env(database_url("postgres")), code, timeout=120).strip().endswith("True")


def demo_args() -> list[str] | None:
    """How to load the demo data small enough for a test, or None if `load_demo` does not exist yet."""
    if os.environ.get("OPS_DEMO_ARGS") is not None:
        return os.environ["OPS_DEMO_ARGS"].split()
    env = app_env(database_url("postgres"))
    done = subprocess.run([PYTHON, "manage.py", "help", "load_demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        return None
    # The real demo (three stores), shortened and thinned so that a test copies it in seconds.
    if "--size" in done.stdout and "--months" in done.stdout:
        return ["--months", "3", "--size", "0.1"]
    return []


def build_template(name: str) -> str:
    """A migrated database with demo data and the ops users: what every fault test copies."""
    url = create_database(name)
    env = app_env(url)
    manage(env, "migrate", "--noinput")
    args = demo_args()
    demo = args is not None
    if demo:
        try:
            manage(env, "load_demo", *args, timeout=900)
        except AssertionError as error:
            # The fault tests are about faults, not the demo (which has its own tests): say so and go on
            # with records made through the services.
            warnings.warn(f"load_demo failed, the fault tests use seed.py's records instead: {error}", stacklevel=1)
            demo = False
            url = create_database(name)
            env = app_env(url)
            manage(env, "migrate", "--noinput")
    # Our own login users, and a few records through the services when there is no demo.
    python(env, f"from tests.reliability.seed import seed; seed(customers={0 if demo else 300})")
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - waiting for a server: every failure means "not yet"
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A server in its own process group, so that it and its children can be killed together."""
    handle = open(log, "ab")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc._ops_log = handle  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    # Children of a killed leader may outlive it: the whole group goes.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    getattr(proc, "_ops_log", None) and proc._ops_log.close()  # type: ignore[attr-defined]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 2, timeout: int = 30) -> Iterator[str]:
    port = free_port()
    proc = start([str(BIN / "gunicorn"), "dealership.wsgi:application", "--bind", f"127.0.0.1:{port}",
                  "--workers", str(workers), "--timeout", str(timeout), "--graceful-timeout", "5"], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{base}/health/", timeout=5).status_code == 200, 60,
                   what=f"gunicorn on {base} (log: {log})")
        yield base
    finally:
        stop(proc)


def celery_worker(env: dict[str, str], log: Path, visibility_timeout: int | None = None) -> subprocess.Popen:
    """`celery -A dealership worker -P prefork -c 1`; a short visibility timeout only for the kill test."""
    if visibility_timeout is None:
        cmd = [str(BIN / "celery"), "-A", "dealership", "worker", "-P", "prefork", "-c", "1", "-l", "info",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
    else:
        # The same worker, with the broker's visibility timeout shortened: the production value (an hour
        # above the longest task) would make the test wait that long for the killed task to come back.
        cmd = [PYTHON, "-c",
               "import sys; from dealership.celery import app; "
               f"app.conf.broker_transport_options = {{'visibility_timeout': {visibility_timeout}}}; "
               "app.worker_main(sys.argv[1:])",
               "worker", "-P", "prefork", "-c", "1", "-l", "info",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return start(cmd, env, log)


def login(base: str, username: str, password: str = OPS_PASSWORD) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    page.raise_for_status()
    answer = session.post(f"{base}/accounts/login/", timeout=10, allow_redirects=False,
                          data={"username": username, "password": password,
                                "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert answer.status_code == 302, f"login of {username} failed: {answer.status_code}"
    return session


def pg_port() -> int:
    return urlsplit(database_url("postgres")).port or 5432


def pg_cluster() -> tuple[str, str] | None:
    """The local cluster (version, name) that serves DATABASE_URL's port, for pg_ctlcluster."""
    if not shutil.which("pg_lsclusters"):
        return None
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        version, name, port, *_ = line.split()
        if int(port) == pg_port():
            return version, name
    return None


def pg_ready(timeout: float = 60) -> None:
    port = str(pg_port())
    wait_until(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", port, "-q"]).returncode == 0,
               timeout, interval=0.5, what=f"PostgreSQL on port {port} to accept connections")

"""Load test runner: gunicorn (4 workers) + a Celery worker + PostgreSQL with the demo data, driven by locust.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealership_load \\
        flock /tmp/bench.lock .venv/bin/python bench/load/run.py --prepare --users 30 --duration 120

--prepare migrates the database and loads the demo (`load_demo --if-empty`) first. The runner adds two
login users (ops_manager, ops_consultant), starts the servers on 127.0.0.1 only, finds the pages and
customers to use, runs locust headless, prints the p95 of each kind of request as a Markdown table and
exits non-zero on any failed request (or a kind it could not find). Everything it starts, it stops.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.reliability import servers  # noqa: E402  (the same process helpers as the fault tests)

KINDS = ["dashboard", "customer list", "customer edit", "api read"]
TARGET_P95_MS = {"dashboard": 300, "api read": 150}


def prepare(env: dict[str, str]) -> None:
    servers.manage(env, "migrate", "--noinput")
    if servers.demo_args() is not None:
        servers.manage(env, "load_demo", "--if-empty", timeout=3600)
    servers.python(env, "from tests.reliability.seed import seed; seed(customers=0)")


def plan(base: str) -> dict:
    """Log in once, find the URLs of each kind and some customers to edit (the URL conf is the others')."""
    session = servers.login(base, servers.OPS_MANAGER)
    token = requests.post(f"{base}/api/v1/auth/token/", timeout=10,
                          json={"username": servers.OPS_MANAGER, "password": servers.OPS_PASSWORD}).json()["token"]
    api = {"Authorization": f"Token {token}"}

    def ok(path: str, headers: dict | None = None) -> bool:
        return session.get(base + path, timeout=30, headers=headers or {}).status_code == 200

    customers = requests.get(f"{base}/api/v1/customers/?page_size=200", headers=api, timeout=30).json()["results"]
    store = customers[0]["dealership"] if customers else None
    periods = [row[0] for row in servers.query(
        os.environ["DATABASE_URL"], "SELECT DISTINCT to_char(period, 'YYYY-MM') FROM kpis_kpivalue "
                                    "WHERE dealership_id = %s ORDER BY 1 DESC LIMIT 3", (store,))] if store else []
    dashboards = ["/kpis/"] + [f"/kpis/?dealership={store}&period={p}" for p in periods]
    found = {
        "username": servers.OPS_MANAGER, "password": servers.OPS_PASSWORD, "token": token,
        "dashboard": [p for p in dashboards if ok(p)],
        "customer_list": [p for p in ("/customers/", "/customers/?page=2", "/customers/?stage=target") if ok(p)],
        "api_read": [p for p in ("/api/v1/customers/?page_size=50", "/api/v1/customers/?stage=target",
                                 *(f"/api/v1/kpis/?dealership={store}&period={p}" for p in periods),
                                 "/api/v1/kpis/definitions/") if ok(p, api)],
        "customers": [{"id": c["id"], "name": c["name"]} for c in customers],
        "edit": "/api/v1/customers/{id}/",
    }
    if customers:
        first = customers[0]
        answer = requests.patch(f"{base}/api/v1/customers/{first['id']}/", headers=api, timeout=30,
                                json={"name": first["name"]})
        if answer.status_code != 200:
            found["customers"] = []
            print(f"customer edit refused: {answer.status_code} {answer.text[:300]}", file=sys.stderr)
    missing = [k for k in ("dashboard", "customer_list", "api_read", "customers") if not found[k]]
    if missing:
        raise SystemExit(f"could not find URLs for: {missing} (is the demo loaded, are the pages there?)")
    return found


def p95_table(prefix: Path) -> tuple[list[dict], int]:
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv", encoding="utf-8")))
    by_name = {r["Name"]: r for r in rows}
    table = []
    for kind in KINDS:
        r = by_name.get(kind)
        if r is None:
            table.append({"kind": kind, "requests": 0, "failures": 0, "p50": None, "p95": None, "max": None})
            continue
        table.append({"kind": kind, "requests": int(r["Request Count"]), "failures": int(r["Failure Count"]),
                      "p50": r["50%"], "p95": r["95%"], "p99": r["99%"], "max": round(float(r["Max Response Time"])),
                      "rps": round(float(r["Requests/s"]), 1)})
    total = by_name.get("Aggregated", {})
    return table, int(total.get("Failure Count", 0))


def markdown(table: list[dict]) -> str:
    lines = ["| kind | requests | failures | p50 ms | p95 ms | p99 ms | max ms | req/s | p95 target |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        target = TARGET_P95_MS.get(r["kind"])
        verdict = "" if target is None or r["p95"] is None else (
            f"< {target} ms {'met' if float(r['p95']) < target else 'MISSED'}")
        lines.append(f"| {r['kind']} | {r['requests']} | {r['failures']} | {r['p50']} | {r['p95']} | "
                     f"{r.get('p99')} | {r['max']} | {r.get('rps')} | {verdict} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", type=int, default=120, help="seconds")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--every-kind", action="store_true",
                        help="fail also when a kind of request was never made (too few requests to tell)")
    parser.add_argument("--think", default="2,8", help="each user's pause between two clicks: min,max seconds")
    parser.add_argument("--prepare", action="store_true", help="migrate and load the demo first")
    parser.add_argument("--out", default="/tmp/dealership-load", help="folder for the CSV stats and the logs")
    parser.add_argument("--redis", default=os.environ.get("LOAD_REDIS_URL", ""),
                        help="Redis for cache and broker (then a Celery worker runs the KPI tasks too)")
    args = parser.parse_args()

    database = servers.postgres_url()
    if database is None:
        raise SystemExit("set DATABASE_URL=postgres://... (a database with the demo data)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Every virtual user signs in as the same manager: lift the per-user API rate that would otherwise
    # count 30 people as one.
    env = servers.app_env(database, redis=args.redis, API_USER_RATE="1000000/hour")
    if args.prepare:
        prepare(env)
    else:
        servers.python(env, "from tests.reliability.seed import seed; seed(customers=0)")

    worker = servers.celery_worker(env, out / "worker.log") if args.redis else None
    try:
        with servers.gunicorn(env, out / "gunicorn.log", workers=args.workers) as base:
            load_plan = plan(base)
            prefix = out / "locust"
            started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
            load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
            done = subprocess.run(
                [str(servers.BIN / "locust"), "-f", str(ROOT / "bench" / "load" / "locustfile.py"), "--headless",
                 "--host", base, "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s",
                 "--csv", str(prefix), "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"],
                env={**os.environ, "LOAD_PLAN": json.dumps(load_plan), "LOAD_THINK": args.think}, cwd=ROOT,
                capture_output=True, text=True, timeout=args.duration + 300)
            (out / "locust.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    finally:
        if worker is not None:
            servers.stop(worker)

    table, failures = p95_table(prefix)
    customers = servers.query(database, "SELECT count(*) FROM customers_customer")[0][0]
    print(f"load test {started}: {args.users} users pausing {args.think} s between clicks, {args.duration} s, "
          f"gunicorn {args.workers} workers, {customers} customers in the database, load average before: "
          f"{load_before}")
    print(markdown(table))
    absent = [r["kind"] for r in table if r["requests"] == 0] if args.every_kind else []
    if failures or absent or done.returncode not in (0, 1):
        errors = Path(f"{prefix}_failures.csv")
        print(f"FAILED: {failures} failed requests, kinds never requested: {absent}; locust exit "
              f"{done.returncode}\n{errors.read_text(encoding='utf-8')[:3000] if errors.exists() else ''}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

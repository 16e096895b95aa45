"""30 users of a store at work: dashboards, customer lists, customer edits and API reads.

Started by bench/load/run.py, which logs in once, finds the pages and a set of customer ids, and hands
them over in LOAD_PLAN (JSON). Each kind of request is reported under one name, so that the p95 of each
kind can be read from the stats: dashboard, customer list, customer edit, api read.
"""
from __future__ import annotations

import json
import os
import random

from locust import HttpUser, between, task

PLAN = json.loads(os.environ.get("LOAD_PLAN", "{}"))


class StoreUser(HttpUser):
    # A person reads what the page shows before the next click: LOAD_THINK="min,max" seconds.
    wait_time = between(*(float(x) for x in os.environ.get("LOAD_THINK", "2,8").split(",")))

    def on_start(self) -> None:
        page = self.client.get("/accounts/login/", name="login")
        self.client.post("/accounts/login/", name="login", allow_redirects=False,
                         data={"username": PLAN["username"], "password": PLAN["password"],
                               "csrfmiddlewaretoken": page.cookies.get("csrftoken")
                               or self.client.cookies.get("csrftoken")})
        self.api = {"Authorization": f"Token {PLAN['token']}"}

    @task(3)
    def dashboard(self) -> None:
        self.client.get(random.choice(PLAN["dashboard"]), name="dashboard")

    @task(3)
    def customer_list(self) -> None:
        self.client.get(random.choice(PLAN["customer_list"]), name="customer list")

    @task(3)
    def api_read(self) -> None:
        self.client.get(random.choice(PLAN["api_read"]), name="api read", headers=self.api)

    @task(1)
    def customer_edit(self) -> None:
        customer = random.choice(PLAN["customers"])
        # The same name again: a real write through the service (audit row, stale KPI month) that
        # leaves the demo data as it was.
        self.client.patch(PLAN["edit"].format(id=customer["id"]), name="customer edit", headers=self.api,
                          json={"name": customer["name"]})

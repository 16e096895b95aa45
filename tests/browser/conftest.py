"""A real headless Chromium (Debian's package) driven by Playwright against pytest-django's live server.

Every page is watched: a console error, an uncaught exception or a request to any host other than the
live server fails the test. Without chromium the tests skip, unless REQUIRE_BROWSER=1 (CI), where a
missing browser is a failure.
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from dealership.models import Role
from kpis.registry import KPIS
from tests.factories import (CampaignFactory, CampaignMetricFactory, ChannelValueFactory, CustomerFactory,
                             DealershipFactory, KpiAlertFactory, KpiValueFactory, OrderFactory,
                             ServiceVisitFactory, UserFactory)

PASSWORD = "correct-horse-battery"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


class Watched:
    """A page whose console errors and foreign requests are collected; `check()` fails on any."""

    def __init__(self, page, origin: str):
        self.page, self.origin = page, origin
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("request", self._request)

    def _request(self, request):
        url = urlparse(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if f"{url.scheme}://{url.netloc}" != self.origin:
            self.problems.append(f"request to another host: {request.url}")

    def check(self):
        assert self.problems == [], self.problems

    def login(self, username: str):
        self.page.goto(self.origin + "/accounts/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.follow("button[type=submit]")
        self.page.wait_for_load_state("networkidle")
        assert "/accounts/login/" not in self.page.url, "login failed"

    def follow(self, selector: str):
        """Click what loads another page and wait for it: a check right after a bare click may still read
        the old page (a chart count of 0 on the page being left failed CI once)."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def charts_drawn(self, timeout: int = 15000):
        # At least one figure: a page with charts is being waited for, never the empty page before it.
        self.page.wait_for_function(
            "() => { const figures = [...document.querySelectorAll('[data-figure]')];"
            " return figures.length > 0 && figures.every(el => el.dataset.drawn === '1'); }",
            timeout=timeout)
        return self.page.locator("[data-figure].js-plotly-plot").count()

    def shot(self, name: str):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def watched(browser, live_server):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(20000)
    watcher = Watched(page, live_server.url)
    yield watcher
    context.close()
    watcher.check()


# --- a store with a few months of life ---------------------------------------------------------

@pytest.fixture
def shop(transactional_db):
    """A store, its people, customers at every stage, callbacks due, and two years of KPI values."""
    rng = random.Random(7)
    store = DealershipFactory(code="HZ001", name="杭州丰田一店")
    other = DealershipFactory(code="HZ002", name="杭州丰田二店", group=store.group)
    people = {
        "consultant": UserFactory(username="wang", name="王磊", role=Role.CONSULTANT, dealership=store),
        "advisor": UserFactory(username="zhao", name="赵敏", role=Role.ADVISOR, dealership=store),
        "marketing": UserFactory(username="chen", name="陈静", role=Role.MARKETING, dealership=store),
        "manager": UserFactory(username="boss", name="刘建国", role=Role.MANAGER, dealership=store),
        "group_manager": UserFactory(username="group", name="周总", role=Role.GROUP_MANAGER, dealership=None,
                                     group=store.group),
    }
    colleagues = [UserFactory(username=f"c{i}", name=n, role=Role.CONSULTANT, dealership=store)
                  for i, n in enumerate(["李娜", "张伟", "刘洋", "陈晨", "杨帆", "黄磊", "吴静"])]
    now = timezone.now()
    names = ["张三", "李四", "王芳", "赵强", "孙丽", "周杰", "吴敏", "郑浩", "冯雪", "陈刚", "褚燕", "卫东"]
    stages = ["potential", "potential", "target", "target", "target", "market", "real", "real", "lifetime",
              "loyal", "potential", "target"]
    customers = []
    for i, (name, stage) in enumerate(zip(names, stages)):
        customers.append(CustomerFactory(
            dealership=store, consultant=people["consultant"], name=name, stage=stage, phone=f"1391234{i:04d}",
            intent=rng.choice(["H", "A", "B", "C", ""]), created_at=now - dt.timedelta(days=40 - i),
            last_contact_at=now - dt.timedelta(days=rng.choice([1, 2, 9, 15, 30])),
            is_lost=(i == 11), lost_reason="买了竞品" if i == 11 else ""))
    for i, days in enumerate([5, 2, 1]):  # deliveries awaiting their 3-day callback; the first is overdue
        OrderFactory(customer=customers[6 + i], consultant=people["consultant"], model="凯美瑞",
                     ordered_at=now - dt.timedelta(days=days + 10), delivered_at=now - dt.timedelta(days=days))
    ServiceVisitFactory(customer=customers[8], advisor=people["advisor"], opened_at=now - dt.timedelta(days=4),
                        revenue=Decimal("1280"))
    _seed_kpis(store, other, colleagues + [people["consultant"]], rng)
    return {"store": store, "other": other, "customers": customers, **people}


def _seed_kpis(store, other, consultants, rng) -> None:
    end = timezone.localdate().replace(day=1)
    periods = []
    d = end
    for _ in range(24):
        periods.append(d)
        d = (d - dt.timedelta(days=1)).replace(day=1)
    for code, definition in KPIS.items():
        base = {"rate": 0.6, "count": 300, "money": 900000, "score": 94, "rank": 5}[definition.unit]
        for i, period in enumerate(reversed(periods)):
            season = 1 + 0.15 * ((i % 12) - 6) / 6
            if definition.unit == "rate":
                value = min(0.98, max(0.05, base * season + rng.uniform(-0.15, 0.15)))
            elif definition.unit == "rank":
                value = float(rng.randint(1, 12))
            elif definition.unit == "score":
                value = round(base + rng.uniform(-2, 2), 1)
            else:
                value = round(base * season * rng.uniform(0.8, 1.2))
            KpiValueFactory(dealership=store, period=period, code=code, value=value,
                            numerator=round(value * 100) if definition.unit == "rate" else None,
                            denominator=100 if definition.unit == "rate" else None)
            if period == end and code in ("traffic", "orders", "close_rate", "callback_3d_sales", "aftersales_revenue",
                                          "churn_rate", "csi_score"):
                KpiValueFactory(dealership=other, period=period, code=code,
                                value=round(value * rng.uniform(0.7, 1.2), 3 if definition.unit == "rate" else 0))
    funnel = {"stage_market": 1800, "stage_potential": 950, "stage_target": 420, "stage_real": 260,
              "stage_lifetime": 180, "stage_loyal": 95, "capture_rate": 0.53, "retention_rate": 0.44,
              "funnel_close_rate": 0.31, "return_rate": 0.82, "keep_rate": 0.58}
    from kpis.models import KpiValue
    for code, value in funnel.items():
        KpiValue.objects.filter(dealership=store, period=end, code=code, person__isnull=True).update(value=value)
    for person in consultants:
        skill = rng.lognormvariate(0, 0.35)
        for code, base in (("close_rate", 0.22), ("test_drives", 18), ("callback_3d_sales", 0.9), ("orders", 8)):
            value = min(0.99, base * skill) if base < 1 else round(base * skill)
            KpiValueFactory(dealership=store, period=end, code=code, person=person, value=value)
    for channel, cost, gp in (("online_ads", 34000, 52000), ("social", 11000, 9000), ("event", 45000, 61000),
                              ("kol", 18000, 12000), ("", 108000, 134000)):
        ChannelValueFactory(dealership=store, period=end, channel=channel, campaigns=2, cost=cost, gross_profit=gp,
                            roi=(gp - cost) / cost)
    from kpis.services import kpi_target_set
    for dealership, code, target, line, direction in ((None, "traffic_achievement", 0.9, 0.8, "higher"),
                                                      (None, "churn_rate", 0.15, 0.2, "lower"),
                                                      (store, "close_rate", 0.5, 0.4, "higher"),
                                                      (store, "callback_3d_sales", 0.95, 0.85, "higher")):
        kpi_target_set(dealership=dealership, code=code, target=target, control_line=line, direction=direction)
    KpiAlertFactory(dealership=store, code="churn_rate", period=end, value=0.27)
    KpiAlertFactory(dealership=store, code="traffic_achievement", period=(end - dt.timedelta(days=1)).replace(day=1),
                    value=0.74)
    campaign = CampaignFactory(dealership=store, name="春季试驾节", channel="event",
                               starts_on=end, ends_on=end + dt.timedelta(days=6), contribution_per_deal=Decimal("1000"),
                               reach=12000, inquiries=640, invited=300, planned_attendees=120, budget=Decimal("60000"))
    for code, value, num, den in (("attendees", 120, None, None), ("deals", 38, None, None), ("leads", 260, None, None),
                                  ("cost", 64000, None, None), ("messages_delivered", 12000, None, None),
                                  ("inquiry_rate", 640 / 12000, 640, 12000), ("info_retention_rate", 0.7, 84, 120),
                                  ("invite_to_store_rate", 0.3, 90, 300), ("periodic_close_rate", 38 / 260, 38, 260),
                                  ("break_even_deals", 64, 64000, 1000), ("break_even_rate", 64 / 120, 64, 120)):
        CampaignMetricFactory(campaign=campaign, code=code, value=value, numerator=num, denominator=den)

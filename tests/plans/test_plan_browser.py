"""In a real Chromium: a manager writes a plan through the forms and prints it (print CSS, no CSP errors)."""
from __future__ import annotations

import pytest
from django.utils import timezone

from dealership.models import Role
from plans.models import MarketingPlan, add_months
from tests.browser.conftest import PASSWORD, Watched
from tests.factories import DealershipFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    watcher = Watched(context.new_page(), live_server.url)
    watcher.page.set_default_timeout(20000)
    yield watcher
    context.close()
    watcher.check()  # no console error (a script blocked by the CSP would be one), no foreign request


def test_a_manager_writes_a_plan_in_the_browser_and_prints_it(page, transactional_db):
    store = DealershipFactory(code="HZ001", name="杭州丰田一店")
    UserFactory(username="boss", name="刘建国", role=Role.MANAGER, dealership=store, password=PASSWORD)
    month = add_months(timezone.localdate().replace(day=1), 1)
    page.login("boss")
    page.page.goto(page.origin + "/plans/new/")
    page.page.fill("input[name=period]", f"{month:%Y-%m}")
    page.page.fill("input[name=budget]", "120000")
    page.page.click("input[type=submit]")
    page.page.fill("textarea[name=executive_summary]", "下月车展：客流 600，订单 90。")
    page.page.fill("textarea[name=strategy]", "车展 + 直播")
    page.page.click("input[type=submit]")
    plan = MarketingPlan.objects.get()
    assert page.page.url.endswith(f"/plans/{plan.pk}/")
    assert page.page.locator("tr.point").count() == 8
    assert "计划评估（8项标准）" in page.page.content()

    page.page.goto(page.origin + f"/plans/{plan.pk}/print/")
    assert page.page.locator(".no-print").is_visible()
    page.page.emulate_media(media="print")
    assert not page.page.locator(".no-print").is_visible()
    pdf = page.page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 1

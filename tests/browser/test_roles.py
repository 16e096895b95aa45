"""Each role logs in and does its main flow in a real Chromium; the main pages are photographed."""
from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone, translation

from customers.models import Customer, Stage
from dealership.models import User
from kpis.models import KpiAlert


def stage_label(stage: str) -> str:
    with translation.override("zh-hans"):
        return str(Stage(stage).label)


def test_a_consultant_records_a_test_drive_and_an_order_and_sees_the_stage_change(shop, watched):
    page = watched.page
    watched.login("wang")
    assert page.locator("[data-test=callbacks] tr.overdue-row").count() == 1  # delivered 5 days ago, no call
    watched.shot("consultant-today")

    watched.follow("[data-nav=customers]")
    page.fill("input[name=q]", "张三")
    watched.follow("main form.card button")
    watched.follow("text=张三")
    assert page.locator("[data-test=stage]").inner_text() == stage_label("potential")

    watched.follow("[data-action=test-drive]")
    page.fill("input[name=model]", "RAV4 荣放")
    watched.follow("main form button[type=submit]")
    assert page.locator("[data-test=stage]").inner_text() == stage_label("target")

    watched.follow("[data-action=order]")
    page.fill("input[name=model]", "RAV4 荣放")
    page.fill("input[name=price]", "-5")  # bad input is refused next to the field, nothing written
    watched.follow("main form button[type=submit]")
    assert page.locator("#id_price.is-invalid").count() == 1
    assert not Customer.objects.get(name="张三").orders.exists()
    page.fill("input[name=price]", "189800")
    page.fill("input[name=gross_profit]", "-7600")
    page.fill("input[name=oem_rebate]", "10400")
    watched.follow("main form button[type=submit]")
    assert page.locator("[data-test=stage]").inner_text() == stage_label("real")
    timeline = page.locator("[data-test=timeline]").inner_text()
    assert "RAV4 荣放" in timeline
    watched.shot("consultant-customer")

    page.goto(watched.origin + "/customers/?lost=no")
    watched.shot("consultant-customers")


def test_a_consultant_records_the_overdue_callback_and_it_leaves_the_list(shop, watched):
    page = watched.page
    watched.login("wang")
    watched.follow("[data-test=callbacks] tr.overdue-row a.btn")
    page.check("input[name=reached][value=yes]")
    page.fill("textarea[name=notes]", "客户对交车满意")
    watched.follow("main form button[type=submit]")
    assert page.locator("[data-test=callbacks] tr.overdue-row").count() == 0


def test_marketing_creates_a_campaign_and_sees_its_break_even(shop, watched):
    page = watched.page
    watched.login("chen")
    watched.shot("marketing-campaigns")
    watched.follow("[data-action=new-campaign]")
    today = timezone.localdate()
    page.fill("input[name=name]", "五一车展")
    page.select_option("select[name=channel]", "event")
    page.fill("input[name=starts_on]", today.isoformat())
    page.fill("input[name=ends_on]", (today - dt.timedelta(days=3)).isoformat())  # ends before it starts
    page.fill("input[name=fixed_cost]", "40000")
    page.fill("input[name=variable_cost_per_attendee]", "200")
    page.fill("input[name=contribution_per_deal]", "1000")
    page.fill("input[name=planned_attendees]", "120")
    watched.follow("main form button[type=submit]")
    assert page.locator("#id_ends_on.is-invalid").count() == 1
    page.fill("input[name=ends_on]", (today + dt.timedelta(days=3)).isoformat())
    watched.follow("main form button[type=submit]")
    assert watched.charts_drawn() == 1
    numbers = page.locator("[data-test=break-even] details")
    numbers.locator("summary").click()
    assert re.search(r"\b64\b", numbers.inner_text())  # the seed: 120 attendees need 64 deals
    assert "53.3%" in numbers.inner_text()
    page.goto(page.url.replace(re.search(r"/kpis/campaigns/\d+/", page.url).group(0),
                               f"/kpis/campaigns/{shop['store'].campaigns.get(name='春季试驾节').pk}/"))
    watched.charts_drawn()
    watched.shot("marketing-campaign-break-even")


def test_a_manager_opens_the_dashboard_sees_the_charts_and_answers_an_alert(shop, watched):
    page = watched.page
    watched.login("boss")
    drawn = watched.charts_drawn()
    assert drawn >= 9  # capability curve, 4 trends, distribution, channel ROI, segments, ranks
    assert page.locator("[data-test=tiles] [data-kpi]").count() == 12
    watched.shot("manager-dashboard")

    watched.follow("[data-nav=alerts]")
    assert page.locator("[data-alert]").count() == 2
    watched.shot("manager-alerts")
    first = page.locator("[data-alert]").first
    first.locator("textarea").fill("周末加开两场试驾会，邀约战败客户回店")
    with page.expect_navigation():
        first.locator("[data-action=close-alert]").click()
    assert page.locator("[data-alert]").count() == 1
    assert KpiAlert.objects.filter(closed_at__isnull=False, corrective_action__contains="试驾会").count() == 1


def test_a_manager_recomputes_and_follows_the_progress_bar(shop, watched):
    page = watched.page
    watched.login("boss")
    watched.charts_drawn()
    page.click("[data-action=recompute]")
    page.wait_for_selector("#recompute-bar.bg-success, #recompute-bar.bg-danger", timeout=60000)
    assert "bg-success" in page.locator("#recompute-bar").get_attribute("class")
    assert page.locator("#recompute-bar").inner_text() == "100%"


def test_an_advisor_sees_the_customer_base_and_the_service_visits(shop, watched):
    page = watched.page
    watched.login("zhao")
    assert page.locator("text=冯雪").count() >= 1  # the open repair order of the seed
    watched.shot("advisor-service-visits")
    watched.follow("[data-nav=base]")
    assert watched.charts_drawn() == 1
    watched.shot("advisor-customer-base")


def test_a_group_manager_compares_the_stores(shop, watched):
    page = watched.page
    watched.login("group")
    assert watched.charts_drawn() == 1
    assert page.locator("[data-test=compare] tbody tr").count() == 2
    watched.shot("group-compare")


def test_the_language_switch_turns_the_pages_to_english_and_back(shop, watched):
    page = watched.page
    watched.login("boss")
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "KPI dashboard" in page.locator("h1").inner_text()
    watched.charts_drawn()
    watched.shot("manager-dashboard-en")
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "指标看板" in page.locator("h1").inner_text()
    assert User.objects.get(username="boss").language == "zh-hans"  # remembered on the staff member

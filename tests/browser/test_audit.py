"""A manager edits a customer in a real Chromium, then reads the change in the audit trail."""
from __future__ import annotations


def test_a_manager_edits_a_customer_and_finds_the_old_and_new_values_in_the_audit_trail(shop, watched):
    page = watched.page
    customer = shop["customers"][0]  # 张三, 13912340000
    watched.login("boss")
    page.goto(f"{watched.origin}/customers/{customer.pk}/edit/")
    page.fill("input[name=name]", "张三丰")
    page.fill("input[name=phone]", "13800001111")
    watched.follow("main form button[type=submit]")

    watched.follow("[data-nav=audit]")
    page.select_option("select[name=action]", "update")
    watched.follow("[data-test=audit-filters] button")
    changes = page.locator("[data-test=audit] [data-test=changes]").first.inner_text()
    assert "张三 → 张三丰" in changes
    assert "139****0000 → 138****1111" in changes
    assert "13800001111" not in page.content()
    watched.follow("[data-test=record-link]")
    assert page.url.endswith(f"/customers/{customer.pk}/")

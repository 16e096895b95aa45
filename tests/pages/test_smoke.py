"""Every page of every role answers, in both languages."""
from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import CampaignFactory, CustomerFactory, KpiValueFactory

PAGES = {
    "consultant": ["aftersales:today", "customers:list", "customers:new", "sales:visit_new"],
    "advisor": ["aftersales:service_visits", "aftersales:service_visit_new", "aftersales:today",
                "kpis:customer_base", "kpis:lapsed"],
    "marketing": ["campaigns:list", "campaigns:new", "campaigns:traffic_plans", "kpis:channels", "customers:list"],
    "manager": ["kpis:dashboard", "kpis:alerts", "kpis:targets", "customers:list", "kpis:channels"],
    "group_manager": ["kpis:compare", "kpis:dashboard"],
}


@pytest.mark.parametrize("role,names", PAGES.items())
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_page_of_a_role_opens_in_both_languages(role, names, language, request, as_user, store):
    user = request.getfixturevalue(role)
    user.language = language
    user.save()
    KpiValueFactory(dealership=store, code="traffic", value=420)
    client = as_user(user)
    for name in names:
        response = client.get(reverse(name))
        assert response.status_code == 200, (name, response.status_code)
        assert response["Content-Language"] == language


def test_home_sends_each_role_to_its_own_start_page(as_user, consultant, advisor, marketing, manager, group_manager):
    expected = {consultant: "aftersales:today", advisor: "aftersales:service_visits", marketing: "campaigns:list",
                manager: "kpis:dashboard", group_manager: "kpis:compare"}
    for user, name in expected.items():
        assert as_user(user).get("/").url == reverse(name)


def test_a_customer_card_and_a_campaign_page_open(as_user, store, consultant, marketing):
    customer = CustomerFactory(dealership=store, consultant=consultant)
    assert as_user(consultant).get(reverse("customers:detail", args=[customer.pk])).status_code == 200
    campaign = CampaignFactory(dealership=store)
    assert as_user(marketing).get(reverse("kpis:campaign", args=[campaign.pk])).status_code == 200


def test_no_page_names_another_host_for_a_script_style_font_or_image(as_user, store, manager):
    import re

    KpiValueFactory(dealership=store, code="traffic", value=420)
    page = as_user(manager).get(reverse("kpis:dashboard")).content.decode()
    assert re.findall(r'(?:src|href)="(?:https?:)?//', page) == []
    assert "/static/vendor/plotly-4.1.1/plotly.min.js" in page


def test_the_chinese_catalogue_translates_every_string():
    from pathlib import Path

    po = (Path(__file__).resolve().parents[2] / "locale/zh_Hans/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    blocks = po.split("\n\n")[1:]
    untranslated = [b for b in blocks if 'msgstr ""' in b and "msgstr \"\"\n\"" not in b or 'msgstr[0] ""' in b]
    assert untranslated == []
    assert (Path(__file__).resolve().parents[2] / "locale/zh_Hans/LC_MESSAGES/django.mo").exists()

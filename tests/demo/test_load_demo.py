"""`manage.py load_demo`: what a new user gets from `make run`."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.models import Customer
from dealership.models import Dealership, Role, User
from kpis.models import KpiTarget, KpiValue, MarketData, SatisfactionScore
from campaigns.models import Campaign, TrafficPlan

SMALL = ["--months", "3", "--size", "0.03", "--seed", "5"]


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(db):
    return load(*SMALL)


def test_the_demo_is_a_group_of_three_stores_in_three_cities(demo):
    stores = Dealership.objects.filter(code__startswith="ZJ-")
    assert stores.count() == 3
    assert len({s.city for s in stores}) == 3
    assert len({s.group_id for s in stores}) == 1
    for store in stores:
        assert Customer.objects.filter(dealership=store).exists()
        assert Campaign.objects.filter(dealership=store).exists()
        assert TrafficPlan.objects.filter(dealership=store).count() == 3
        assert MarketData.objects.filter(dealership=store).count() == 3


def test_the_region_survey_table_has_10_to_20_dealers(demo):
    dealers = SatisfactionScore.objects.filter(survey="csi").values("dealer_code").distinct().count()
    assert 10 <= dealers <= 20
    assert {s.code for s in Dealership.objects.all()} <= set(
        SatisfactionScore.objects.values_list("dealer_code", flat=True))


def test_every_role_has_a_printed_login_that_works(demo, client):
    for role in Role.values:
        user = User.objects.filter(role=role).order_by("pk").first()
        assert user is not None, role
        assert user.username in demo
    password = "Huitong-4S-2026"
    assert password in demo and "Guanli-4S-2026" in demo
    for username, pw in [("hz_manager", password), ("hz_sales01", password), ("group", password),
                         ("admin", "Guanli-4S-2026")]:
        assert client.login(username=username, password=pw), username
        client.logout()
    assert User.objects.get(username="admin").is_superuser


def test_the_demo_ends_with_kpis_and_default_targets(demo):
    assert KpiTarget.objects.filter(dealership=None, code="traffic_achievement").exists()
    assert KpiValue.objects.filter(dealership__code="ZJ-HZ01", person=None).exists()


def test_if_empty_does_nothing_the_second_time(demo):
    customers = Customer.objects.count()
    assert "not loaded" in load("--if-empty", *SMALL)
    assert Customer.objects.count() == customers


def test_loading_the_demo_twice_is_refused_with_a_clear_message(demo):
    with pytest.raises(CommandError, match="already exist"):
        load(*SMALL)


@pytest.mark.django_db
def test_a_weak_password_is_refused_before_anything_is_written():
    with pytest.raises(CommandError, match="too weak"):
        load(*SMALL, "--password", "12345678")
    assert not Dealership.objects.exists()

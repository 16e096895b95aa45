"""Every URL of the site and the API refuses anonymous users and other stores' users.

The URL list is generated from the URL conf, so a new page cannot forget its login or its store scope.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from dealership.models import Role
from tests.factories import (CallbackFactory, CampaignCostFactory, CampaignFactory, CampaignMetricFactory,
                             CustomerFactory, DealershipFactory, KpiAlertFactory, KpiTargetFactory,
                             KpiValueFactory, MarketDataFactory, OrderFactory, ServiceVisitFactory,
                             StageChangeFactory, TestDriveFactory, TrafficPlanFactory, UserFactory, VisitFactory)

# Pages anyone may open: signing in and out, the language switch, the health check, the token exchange.
PUBLIC = re.compile(r"^(accounts/(login|logout)/|i18n/|health/|api/v1/auth/token/|static/|media/)")
ADMIN = re.compile(r"^admin/")


def _walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route.lstrip("^").rstrip("$").replace("\\Z", ""), p


def routes():
    seen = set()
    for route, pattern in _walk(get_resolver().url_patterns):
        if PUBLIC.match(route) or ADMIN.match(route) or "(?P<format>" in route or route in seen:
            continue
        seen.add(route)
        yield route


def fill(route: str, value) -> str:
    """Turn a route into a URL with every parameter set to `value` (ints) or a plausible string."""
    url = re.sub(r"<int:\w+>|\(\?P<\w+>\[0-9\]\+\)", str(value), route)
    url = re.sub(r"<(?:str|slug):(\w+)>|\(\?P<(\w+)>[^)]*\)", lambda m: _plausible(m.group(1) or m.group(2)), url)
    url = re.sub(r"<path:\w+>", "x", url)
    url = re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000000", url)
    url = url.replace("\\.", ".").replace("^", "").replace("$", "")
    return "/" + url


def _plausible(name: str) -> str:
    if "period" in name:
        return "2025-03"
    if "kind" in name:
        return "customers"
    return "1" if "id" in name else "x"


ALL_ROUTES = sorted(routes())


@pytest.mark.django_db
@pytest.mark.parametrize("route", ALL_ROUTES)
def test_anonymous_users_are_refused(client, route):
    url = fill(route, 1)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in (301, 302, 401, 403, 404, 405), f"{method.upper()} {url}"
        if response.status_code in (301, 302):
            assert "/accounts/login/" in response["Location"], f"{method.upper()} {url} → {response['Location']}"


@pytest.fixture
def foreign_ids(db):
    """Ids of every kind of record of another store; our own store has none, so none may be found."""
    other = DealershipFactory(code="SH009", name="上海店")
    customer = CustomerFactory(dealership=other)
    ids = set()
    consultant = UserFactory(dealership=other, role=Role.CONSULTANT)
    order = OrderFactory(customer=customer, consultant=consultant, delivered_at=dt.datetime(2025, 3, 20, tzinfo=dt.UTC))
    campaign = CampaignFactory(dealership=other)
    service_visit = ServiceVisitFactory(customer=customer)
    for obj in [customer, consultant, order, campaign, service_visit,
                VisitFactory(dealership=other, customer=customer), TestDriveFactory(customer=customer),
                CallbackFactory(order=order), CampaignCostFactory(campaign=campaign),
                CampaignMetricFactory(campaign=campaign), TrafficPlanFactory(dealership=other),
                MarketDataFactory(dealership=other), KpiAlertFactory(dealership=other),
                KpiTargetFactory(dealership=other), KpiValueFactory(dealership=other),
                StageChangeFactory(customer=customer), other]:
        ids.add(obj.pk)
    try:  # marketing plans, where that app is installed
        from plans.models import MarketingPlan

        plan = MarketingPlan.objects.create(dealership=other, period=dt.date(2025, 3, 1))
        ids.add(plan.pk)
    except Exception:
        pass
    return ids


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.MANAGER, Role.CONSULTANT, Role.MARKETING, Role.ADVISOR])
def test_another_stores_records_are_not_found(client, store, foreign_ids, role):
    user = UserFactory(dealership=store, role=role)
    own_ids = {user.pk, store.pk, store.group_id}
    client.force_login(user)
    leaks = []
    for route in ALL_ROUTES:
        if "<int:" not in route and "[0-9]" not in route:
            continue
        for pk in sorted(foreign_ids - own_ids):
            url = fill(route, pk)
            response = client.get(url)
            if response.status_code not in (302, 400, 403, 404, 405):
                leaks.append(f"GET {url} → {response.status_code}")
    assert not leaks, "\n".join(leaks)

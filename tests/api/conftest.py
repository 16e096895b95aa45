"""API personas: token-authenticated clients for the cast of tests/conftest.py, and a small world of
records in two stores to read, change and delete."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories as f


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and login-failure counters live in the cache: each test starts from zero.
    cache.clear()
    yield
    cache.clear()


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_as():
    return client_for


@pytest.fixture
def manager_api(manager):
    return client_for(manager)


@pytest.fixture
def consultant_api(consultant):
    return client_for(consultant)


@pytest.fixture
def other_manager_api(other_manager):
    return client_for(other_manager)


@pytest.fixture
def other_store(db):
    # Another group: its manager is foreign to everything of `store`, and the other way round.
    return f.DealershipFactory(code="SH001", name="上海丰田一店", group=f.DealerGroupFactory(name="上海某集团"))


def world_of(store, consultant, advisor, n: int = 0) -> dict:
    """One record of every kind in `store`, the customer owned by `consultant`; `n` makes a further set
    (other months and codes) for tests that need several rows of each kind.

    Every store-owned resource of the API needs an entry here: tests/api/test_isolation.py fails for a
    route whose resource has none, so that a new route is never left untried.
    """
    import datetime as dt

    from kpis.registry import KPIS
    from plans import services as plans

    month = dt.date(2025 + n // 12, n % 12 + 1, 1)
    code = list(KPIS)[n]
    campaign = f.CampaignFactory(dealership=store)
    plan = plans.plan_create(dealership=store, period=month, title="计划", prefill_capability=False)
    customer = f.CustomerFactory(dealership=store, consultant=consultant, campaign=campaign)
    order = f.OrderFactory(customer=customer, consultant=consultant, delivered_at=None)
    return {
        "dealerships": store,
        "staff": consultant,
        "customers": customer,
        "visits": f.VisitFactory(dealership=store, customer=customer, consultant=consultant, campaign=campaign),
        "test-drives": f.TestDriveFactory(customer=customer, consultant=consultant),
        "orders": order,
        "service-visits": f.ServiceVisitFactory(customer=customer, advisor=advisor),
        "callbacks": f.CallbackFactory(order=f.OrderFactory(customer=customer, delivered_at=order.ordered_at),
                                       staff=consultant),
        "campaigns": campaign,
        "campaign-costs": f.CampaignCostFactory(campaign=campaign),
        "traffic-plans": f.TrafficPlanFactory(dealership=store, period=month),
        "market-data": f.MarketDataFactory(dealership=store, period=month),
        "kpi-targets": f.KpiTargetFactory(dealership=store, code=code),
        "kpi-alerts": f.KpiAlertFactory(dealership=store, period=month),
        "kpi-values": f.KpiValueFactory(dealership=store, period=month),
        "person-kpi-values": f.KpiValueFactory(dealership=store, period=month, person=consultant, code="orders"),
        "channel-values": f.ChannelValueFactory(dealership=store, period=month),
        "satisfaction-scores": f.SatisfactionScoreFactory(period=month, dealer_code=store.code),
        "recompute": f.RecomputeJobFactory(dealership=store),
        "marketing-plans": plan,
        "marketing-plan-goals": plans.plan_goal_set(plan=plan, code="traffic", target=600, control_line=500),
        "marketing-plan-campaigns": plans.plan_campaign_link(plan=plan, campaign=f.CampaignFactory(dealership=store)),
        "marketing-plan-milestones": plans.plan_milestone_create(plan=plan, title="场地预订",
                                                                 due_on=dt.date(2025, 2, 20)),
    }


@pytest.fixture
def foreign_world(other_store):
    """Everything of another store (another group), as its own consultant and advisor made it."""
    consultant = f.UserFactory(username="sh_c", role="consultant", dealership=other_store)
    advisor = f.UserFactory(username="sh_a", role="advisor", dealership=other_store)
    return world_of(other_store, consultant, advisor)


@pytest.fixture
def home_world(store, consultant, advisor):
    return world_of(store, consultant, advisor)

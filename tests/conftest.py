"""The cast: two stores of one group, and the people who work in them."""
from __future__ import annotations

import os
import shutil

import pytest
from django.core.cache import cache

from dealership.models import Role
from tests.factories import DealershipFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and debounce flags live in the cache: no test may inherit another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def store(db):
    return DealershipFactory(code="HZ001", name="杭州丰田一店")


@pytest.fixture
def other_store(db):
    return DealershipFactory(code="HZ002", name="杭州丰田二店")


@pytest.fixture
def consultant(store):
    return UserFactory(username="wang", name="王顾问", role=Role.CONSULTANT, dealership=store)


@pytest.fixture
def other_consultant(store):
    return UserFactory(username="li", name="李顾问", role=Role.CONSULTANT, dealership=store)


@pytest.fixture
def advisor(store):
    return UserFactory(username="zhao", name="赵服务", role=Role.ADVISOR, dealership=store)


@pytest.fixture
def marketing(store):
    return UserFactory(username="chen", name="陈市场", role=Role.MARKETING, dealership=store)


@pytest.fixture
def manager(store):
    return UserFactory(username="boss", name="刘经理", role=Role.MANAGER, dealership=store)


@pytest.fixture
def other_manager(other_store):
    return UserFactory(username="boss2", name="孙经理", role=Role.MANAGER, dealership=other_store)


@pytest.fixture
def group_manager(store):
    return UserFactory(username="group", name="集团总", role=Role.GROUP_MANAGER, dealership=None, group=store.group)


# --- one headless Chromium per test process, shared by every browser test (tests/browser, imports, plans).
# It is defined here, once: Playwright's sync API cannot start a second instance in the same process.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but no chromium at {CHROMIUM}")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the tests themselves are
    # ordinary synchronous code, so Django's guard against ORM use inside a loop does not apply. Only
    # while the browser runs: the rest of the suite keeps the guard.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
                                    args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous

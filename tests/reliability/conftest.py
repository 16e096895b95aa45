"""Fixtures of the fault tests: a template database with demo data, and copies of it per test."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.reliability import servers

TEMPLATE = "dealership_ops_tpl"


def _missing(what: str) -> None:
    # In CI (REQUIRE_SERVICES=1) a missing server is a failure, not a silent skip.
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required in CI (REQUIRE_SERVICES=1)")
    pytest.skip(f"{what} not configured")


@pytest.fixture(scope="session")
def postgres() -> str:
    url = servers.postgres_url()
    if url is None:
        _missing("PostgreSQL (DATABASE_URL=postgres://...)")
    return url


@pytest.fixture(scope="session")
def ops_template(postgres: str) -> Iterator[str]:
    """Migrated once per session, demo data and the ops users in it; every test copies it."""
    url = servers.build_template(TEMPLATE)
    yield url
    servers.drop_database(TEMPLATE)


@pytest.fixture
def ops_database(ops_template: str) -> Iterator[Callable[[str], str]]:
    """make(name) → the URL of a fresh copy of the template, dropped after the test."""
    made: list[str] = []

    def make(name: str) -> str:
        made.append(name)
        return servers.create_database(name, template=TEMPLATE)

    yield make
    for name in made:
        servers.drop_database(name)


@pytest.fixture
def broker() -> str:
    """The test Redis database, emptied: the Celery queue in it must hold only this test's tasks."""
    url = servers.redis_url()
    if url is None:
        _missing("Redis (TEST_REDIS_URL=redis://...)")
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()

"""A session that cannot be saved because the database went away gives a 503 to retry, not a 400.

The real thing (PostgreSQL restarted under gunicorn) is tests/reliability/test_postgres_restart.py, where a
request that began just before the restart ended as Django's 400 "session deleted before the request
completed". Here the session store's save fails the way the database backend makes it fail.
"""
from __future__ import annotations

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore
from django.db.utils import OperationalError

pytestmark = pytest.mark.django_db


def _fails(cause: Exception | None):
    def save(self, must_create=False):
        # As SessionStore.save does: a DatabaseError on an update becomes an UpdateError.
        try:
            if cause is not None:
                raise cause
            raise UpdateError
        except OperationalError as error:
            raise UpdateError from error
    return save


def test_a_session_lost_with_the_database_is_a_503_with_retry_after(client, manager, monkeypatch):
    client.force_login(manager)
    monkeypatch.setattr(SessionStore, "save", _fails(OperationalError("server closed the connection")))
    response = client.get("/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "数据库暂时无法连接" in response.content.decode()


def test_a_session_deleted_by_a_concurrent_logout_is_still_djangos_400(client, manager, monkeypatch):
    client.force_login(manager)
    monkeypatch.setattr(SessionStore, "save", _fails(None))
    assert client.get("/").status_code == 400

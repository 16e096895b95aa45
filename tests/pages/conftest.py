"""Page tests log in through the session, as a person would; `as_user` gives a client for a persona."""
from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def as_user(db):
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client
    return login

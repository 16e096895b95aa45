"""The audit page's tests: the page as a persona sees it, and the trail written as a person's request writes it."""
from __future__ import annotations

import contextlib

import pytest
from django.test import Client
from django.urls import reverse

from dealership.security import current_actor


@pytest.fixture
def audit_page(db):
    """`audit_page(user, kind="customer", ...)`: the response of /audit/ with those filters, for `user`."""
    def get(user, **params):
        client = Client()
        client.force_login(user)
        return client.get(reverse("audit"), params)
    return get


@contextlib.contextmanager
def acting_as(user):
    """What is written inside is `user`'s in the trail, as the middleware makes it for his requests."""
    token = current_actor.set(user)
    try:
        yield
    finally:
        current_actor.reset(token)

"""Security of issue 7: production settings, headers, sign-in throttling, the admin, the audit trail."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.urls import reverse

from customers.services import customer_create, customer_update
from dealership.models import AuditEntry
from dealership.security import mask_phone, phone_for
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


# DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser fixture runs (tests/conftest.py), and pytest-django runs
# database-less tests like these last, when a browser test of the same process may have started it.
TEST_ONLY_ENV = ("DJANGO_ENV", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_ENV}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(60), "ALLOWED_HOSTS": "crm.example.cn"}


def test_check_deploy_passes_with_production_settings_and_no_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 silenced" in result.stdout and "WARNINGS" not in result.stdout


@pytest.mark.parametrize("unsafe, message", [
    ({"SECRET_KEY": ""}, "SECRET_KEY"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"DEBUG": "true"}, "DEBUG"),
    ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
])
def test_production_refuses_to_start_with_an_unsafe_value(unsafe, message):
    result = manage("check", **{**PRODUCTION, **unsafe})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_every_page_sends_a_content_security_policy_of_its_own_origin_only(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in policy  # no other host is allowed anything
    assert response.context["request"].csp_nonce in policy


@pytest.mark.django_db
def test_sign_in_is_locked_after_five_failures_even_with_the_right_password(client, consultant):
    for _ in range(5):
        client.post(reverse("login"), {"username": "wang", "password": "wrong-password-1"})
    response = client.post(reverse("login"), {"username": "wang", "password": "correct-horse-battery"})
    assert response.status_code == 200  # the form again, with the lock message
    assert "_auth_user_id" not in client.session
    assert "15" in response.content.decode()


@pytest.mark.django_db
def test_a_good_sign_in_works_and_clears_earlier_failures(client, consultant):
    client.post(reverse("login"), {"username": "wang", "password": "wrong-password-1"})
    response = client.post(reverse("login"), {"username": "wang", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(consultant.pk)


def test_sessions_time_out_when_idle(settings):
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600 and settings.SESSION_SAVE_EVERY_REQUEST


def test_weak_passwords_are_refused():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("12345678", "password123", "abc"):
        with pytest.raises(ValidationError):
            validate_password(weak)


@pytest.mark.django_db
def test_the_admin_is_for_superusers_only(client, manager):
    client.force_login(manager)
    manager.is_staff = True
    manager.save()
    assert client.get("/admin/").status_code == 302
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True, dealership=None, role="manager")
    client.force_login(superuser)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_audit_trail_keeps_who_created_and_changed_a_customer_with_old_and_new_values(store, consultant):
    from dealership.security import current_actor

    token = current_actor.set(consultant)
    try:
        customer = customer_create(dealership=store, name="张三", phone="13912345678")
        customer_update(customer=customer, name="张三丰")
    finally:
        current_actor.reset(token)
    created, changed = AuditEntry.objects.filter(model="customers.Customer").order_by("id")
    assert (created.action, created.actor_name, created.dealership_id) == ("create", "wang", store.pk)
    assert changed.action == "update"
    assert changed.changes["name"] == ["张三", "张三丰"]


@pytest.mark.django_db
def test_an_audit_entry_cannot_be_edited(store):
    entry = AuditEntry.objects.create(action="export", model="customers.Customer")
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_the_database_refuses_to_rewrite_the_audit_trail():
    from django.db.utils import InternalError

    AuditEntry.objects.create(action="export", model="customers.Customer")
    with pytest.raises(InternalError), transaction.atomic():
        AuditEntry.objects.all().update(actor_name="someone else")


@pytest.mark.django_db
def test_phone_numbers_are_masked_for_roles_that_do_not_call_customers(consultant, group_manager, marketing, manager):
    assert mask_phone("13912341234") == "139****1234"
    assert phone_for(consultant, "13912341234") == "13912341234"
    assert phone_for(group_manager, "13912341234") == "139****1234"
    assert phone_for(marketing, "13912341234", export=True) == "139****1234"
    assert phone_for(manager, "13912341234", export=True) == "13912341234"

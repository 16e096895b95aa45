"""The audit trail page: filters, old → new values with phone numbers masked, the CSV, the query count."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.admin.sites import site
from django.test import Client

from customers.services import customer_create, customer_update
from dealership.models import AuditEntry
from tests.audit.conftest import acting_as
from tests.factories import CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db

RAW = ("13912345678", "13800001111")


@pytest.fixture
def edited(store, manager, consultant):
    """The consultant creates 张三 (phone, a note with a number); the manager changes his phone and name."""
    with acting_as(consultant):
        customer = customer_create(dealership=store, name="张三", phone=RAW[0], notes="备用 139 1234 5678")
    with acting_as(manager):
        customer_update(customer=customer, phone=RAW[1], name="张三丰")
    return customer


def _rows(response) -> list[AuditEntry]:
    return [row.entry for row in response.context["rows"]]


def test_a_change_shows_who_made_it_and_each_field_old_and_new(audit_page, manager, edited):
    response = audit_page(manager, kind="customer", action="update")
    (row,) = response.context["rows"]
    assert row.who == "刘经理"
    assert ("张三", "张三丰") in [(old, new) for _label, old, new in row.changes]
    assert row.url == f"/customers/{edited.pk}/"
    assert f'href="/customers/{edited.pk}/"' in response.content.decode()


def test_phone_numbers_stay_masked_in_values_notes_and_names_even_for_a_manager(audit_page, manager, store, edited):
    customer_create(dealership=store, name="", phone="13700002222")  # a customer known only by his number
    page = audit_page(manager).content.decode()
    assert "139****5678" in page and "138****1111" in page and "137****2222" in page
    assert not any(raw in page for raw in (*RAW, "13700002222", "139 1234 5678"))


def test_the_filters_narrow_by_record_type_action_person_record_and_dates(audit_page, manager, consultant, store,
                                                                          edited):
    campaign = CampaignFactory(dealership=store)
    assert {e.model for e in _rows(audit_page(manager, kind="campaign"))} == {"campaigns.Campaign"}
    assert [e.action for e in _rows(audit_page(manager, kind="customer"))] == ["update", "create"]  # newest first
    assert [e.actor_name for e in _rows(audit_page(manager, actor=consultant.pk))] == ["wang"]
    assert [e.object_id for e in _rows(audit_page(manager, object_id=campaign.pk, kind="campaign"))] == [str(campaign.pk)]
    today = dt.date.today()
    assert len(_rows(audit_page(manager, since=today - dt.timedelta(days=1), until=today + dt.timedelta(days=1)))) == 3
    assert _rows(audit_page(manager, until=today - dt.timedelta(days=2))) == []


def test_a_reversed_date_range_is_an_error_not_the_whole_trail(audit_page, manager, edited):
    response = audit_page(manager, since="2025-03-10", until="2025-03-01")
    assert response.context["form"].errors["until"]
    assert _rows(response) == []


def test_a_person_of_another_store_cannot_be_chosen(audit_page, manager, other_manager, edited):
    response = audit_page(manager, actor=other_manager.pk)
    assert "actor" in response.context["form"].errors


def test_times_are_shown_in_the_stores_time_zone(audit_page, manager, store):
    store.timezone = "Asia/Tokyo"
    store.save()
    AuditEntry.objects.create(at=dt.datetime(2025, 3, 10, 0, 30, tzinfo=dt.UTC), action="export",
                              model="customers", dealership_id=store.pk)
    assert "2025-03-10 09:30:00" in audit_page(manager, kind="export").content.decode()


def test_the_csv_export_is_masked_filtered_and_itself_recorded_as_an_export(client, manager, edited):
    client.force_login(manager)
    response = client.get("/audit/?kind=customer&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 3  # header, the change, the creation
    assert "139****5678 → 138****1111" in rows[1][-1]
    assert not any(raw in response.content.decode() for raw in RAW)
    export = AuditEntry.objects.get(action="export")
    assert (export.model, export.actor_id, export.dealership_id) == ("audit_trail", manager.pk, manager.dealership_id)
    assert "kind=customer" in export.object_repr
    assert len(list(csv.reader(io.StringIO(client.get("/audit/?kind=export&format=csv").content.decode())))) == 2
    client.get("/audit/?kind=export")
    assert AuditEntry.objects.filter(action="export").count() == 2  # reading the page is no export


def test_the_page_costs_the_same_few_queries_for_five_entries_as_for_a_full_page(
        manager, store, django_assert_num_queries):
    client = Client()
    client.force_login(manager)
    colleagues = [UserFactory(dealership=store) for _ in range(5)]
    for i, person in enumerate(colleagues):
        with acting_as(person):
            customer_create(dealership=store, name=f"客户{i}", phone=f"1390000{i:04d}")
    # Session, user and store (the middleware); the capped count, the entries, their people, their stores; the
    # staff of the "by" filter; the session saved again (a savepoint, the update, its release).
    with django_assert_num_queries(11):
        client.get("/audit/")
    for i in range(60):
        with acting_as(colleagues[i % 5]):
            customer_create(dealership=store, name=f"客户x{i}", phone=f"1380000{i:04d}")
    with django_assert_num_queries(11):
        response = client.get("/audit/?page=2")
    assert len(response.context["rows"]) == 15


@pytest.mark.parametrize("permission", ["has_add_permission", "has_change_permission", "has_delete_permission"])
def test_the_admin_cannot_add_change_or_delete_an_entry(rf, permission):
    request = rf.get("/admin/")
    request.user = UserFactory(is_superuser=True, is_staff=True, dealership=None, role="manager")
    assert getattr(site._registry[AuditEntry], permission)(request) is False


def test_the_admin_masks_phone_numbers_too(client, edited):
    root = UserFactory(username="root", is_superuser=True, is_staff=True, dealership=None, role="manager")
    client.force_login(root)
    entry = AuditEntry.objects.filter(action="update").get()
    page = client.get(f"/admin/dealership/auditentry/{entry.pk}/change/").content.decode()
    assert "138****1111" in page and RAW[1] not in page

"""Who may read the audit trail, and of which stores."""
from __future__ import annotations

import pytest

from customers.services import customer_create
from dealership.models import Role
from tests.audit.conftest import acting_as
from tests.factories import DealerGroupFactory, DealershipFactory, UserFactory


@pytest.fixture
def customers(store, other_store, manager, other_manager):
    """One customer written in each store by its manager, and one in a store of another group."""
    foreign = DealershipFactory(code="SH001", name="上海店", group=DealerGroupFactory(name="上海集团"))
    with acting_as(manager):
        customer_create(dealership=store, name="杭一客户", phone="13900000001")
    with acting_as(other_manager):
        customer_create(dealership=other_store, name="杭二客户", phone="13900000002")
    customer_create(dealership=foreign, name="上海客户", phone="13900000003")


def test_a_manager_sees_the_entries_of_his_own_store_only(audit_page, manager, customers):
    page = audit_page(manager).content.decode()
    assert "杭一客户" in page
    assert "杭二客户" not in page and "上海客户" not in page


def test_another_stores_manager_sees_nothing_of_it(audit_page, other_manager, customers):
    page = audit_page(other_manager).content.decode()
    assert "杭二客户" in page
    assert "杭一客户" not in page and "上海客户" not in page


def test_a_group_manager_sees_the_stores_of_his_group_and_no_other(audit_page, group_manager, customers):
    page = audit_page(group_manager).content.decode()
    assert "杭一客户" in page and "杭二客户" in page
    assert "上海客户" not in page


def test_a_superuser_sees_every_store(audit_page, customers):
    root = UserFactory(username="root", is_superuser=True, dealership=None, role=Role.MANAGER)
    page = audit_page(root).content.decode()
    assert all(name in page for name in ("杭一客户", "杭二客户", "上海客户"))


def test_an_id_of_another_stores_record_finds_nothing(audit_page, manager, other_store, customers):
    foreign = other_store.customers.get()
    response = audit_page(manager, kind="customer", object_id=foreign.pk)
    assert list(response.context["page"]) == []


@pytest.mark.parametrize("persona", ["consultant", "advisor", "marketing"])
def test_staff_who_are_not_managers_are_refused(audit_page, persona, request, customers):
    assert audit_page(request.getfixturevalue(persona)).status_code == 403


@pytest.mark.parametrize("persona, shown", [("manager", True), ("group_manager", True), ("consultant", False),
                                             ("marketing", False)])
def test_only_managers_have_the_link_in_the_menu(client, request, persona, shown):
    client.force_login(request.getfixturevalue(persona))
    assert ('data-nav="audit"' in client.get("/customers/", follow=True).content.decode()) is shown


def test_a_group_managers_own_exports_are_his_and_no_store_managers(client, audit_page, group_manager, manager):
    client.force_login(group_manager)
    client.get("/customers/?format=csv")  # a group manager belongs to no store: the entry names none
    assert [e.model for e in audit_page(group_manager, kind="export").context["page"]] == ["customers"]
    assert list(audit_page(manager, kind="export").context["page"]) == []

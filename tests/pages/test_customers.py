"""The consultant's customer pages: only his own customers, the lifecycle through forms, CSV, no N+1."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Customer, StageChange
from sales.models import Order, TestDrive
from tests.factories import CallbackFactory, CustomerFactory, OrderFactory, ServiceVisitFactory, TestDriveFactory, VisitFactory


@pytest.fixture
def mine(store, consultant):
    return CustomerFactory(dealership=store, consultant=consultant, name="张三", phone="13900001111", stage="potential")


def test_a_consultant_lists_only_his_own_customers(as_user, store, consultant, other_consultant, mine):
    CustomerFactory(dealership=store, consultant=other_consultant, name="李四")
    page = as_user(consultant).get(reverse("customers:list")).content.decode()
    assert "张三" in page and "李四" not in page


def test_another_consultants_customer_is_a_404_on_every_page(as_user, store, consultant, other_consultant):
    theirs = CustomerFactory(dealership=store, consultant=other_consultant)
    client = as_user(consultant)
    for name in ("customers:detail", "customers:edit", "customers:lost", "customers:stage",
                 "sales:test_drive_new", "sales:order_new"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404, name
    assert client.post(reverse("sales:test_drive_new", args=[theirs.pk]),
                       {"occurred_at": "2025-03-10T10:00", "model": "RAV4"}).status_code == 404
    assert not TestDrive.objects.exists()


def test_the_list_filters_by_stage_lost_and_searches_by_phone_digits(as_user, store, consultant, mine):
    CustomerFactory(dealership=store, consultant=consultant, name="王五", stage="target", is_lost=True,
                    lost_reason="价格")
    client = as_user(consultant)
    assert "王五" not in client.get(reverse("customers:list"), {"stage": "potential"}).content.decode()
    assert "王五" in client.get(reverse("customers:list"), {"lost": "yes"}).content.decode()
    found = client.get(reverse("customers:list"), {"q": "139-0000-1111"}).content.decode()
    assert "张三" in found and "王五" not in found


def test_a_test_drive_form_makes_the_customer_target_and_keeps_the_history(as_user, consultant, mine):
    response = as_user(consultant).post(reverse("sales:test_drive_new", args=[mine.pk]),
                                        {"occurred_at": "2025-03-10T10:00", "model": "RAV4"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.stage == "target"
    assert StageChange.objects.filter(customer=mine, from_stage="potential", to_stage="target").exists()
    assert TestDrive.objects.get().consultant == consultant


def test_an_order_form_with_a_negative_price_says_so_next_to_the_field_and_writes_nothing(as_user, consultant, mine):
    response = as_user(consultant).post(reverse("sales:order_new", args=[mine.pk]), {
        "ordered_at": "2025-03-10T10:00", "model": "Camry", "price": "-1", "gross_profit": "0", "oem_rebate": "0"})
    assert response.status_code == 200
    assert "price" in response.context["form"].errors
    assert 'id="id_price"' in response.content.decode() and "is-invalid" in response.content.decode()
    assert not Order.objects.exists()
    mine.refresh_from_db()
    assert mine.stage == "potential"


def test_an_order_form_makes_the_customer_real(as_user, consultant, mine):
    as_user(consultant).post(reverse("sales:order_new", args=[mine.pk]), {
        "ordered_at": "2025-03-10T10:00", "model": "Camry", "price": "150000", "gross_profit": "-6000",
        "oem_rebate": "8250"})
    mine.refresh_from_db()
    assert mine.stage == "real"
    assert Order.objects.get().price == Decimal("150000")


def test_a_delivery_before_the_order_is_refused(as_user, consultant, mine):
    order = OrderFactory(customer=mine, consultant=consultant)
    response = as_user(consultant).post(reverse("sales:order_deliver", args=[order.pk]),
                                        {"delivered_at": "2025-03-01T10:00"})
    assert "delivered_at" in response.context["form"].errors
    order.refresh_from_db()
    assert order.delivered_at is None


def test_marking_lost_needs_a_reason_and_reactivation_undoes_it(as_user, consultant, mine):
    client = as_user(consultant)
    response = client.post(reverse("customers:lost", args=[mine.pk]), {"reason": "  "})
    assert "reason" in response.context["form"].errors
    client.post(reverse("customers:lost", args=[mine.pk]), {"reason": "买了竞品"})
    mine.refresh_from_db()
    assert mine.is_lost and mine.lost_reason == "买了竞品"
    client.post(reverse("customers:reactivate", args=[mine.pk]))
    mine.refresh_from_db()
    assert not mine.is_lost


def test_a_hand_move_is_kept_in_the_history_and_shown_on_the_timeline(as_user, consultant, mine):
    client = as_user(consultant)
    client.post(reverse("customers:stage", args=[mine.pk]), {"stage": "market"})
    mine.refresh_from_db()
    assert mine.stage == "market"
    page = client.get(reverse("customers:detail", args=[mine.pk])).content.decode()
    assert page.count('class="t-stage"') == 1


def test_a_new_customer_belongs_to_the_consultant_who_adds_him(as_user, consultant):
    as_user(consultant).post(reverse("customers:new"), {"name": "赵六", "phone": "+86 139 1234 5678",
                                                        "source": "walk_in", "stage": "potential"})
    customer = Customer.objects.get(name="赵六")
    assert customer.consultant == consultant and customer.phone == "13912345678"


def test_a_bad_phone_number_is_refused_next_to_the_field(as_user, consultant):
    response = as_user(consultant).post(reverse("customers:new"), {"name": "赵六", "phone": "abc",
                                                                   "source": "walk_in", "stage": "potential"})
    assert "phone" in response.context["form"].errors
    assert not Customer.objects.exists()


def test_the_csv_export_shows_phones_to_a_manager_and_masks_them_for_a_consultant(as_user, consultant, manager, mine):
    def rows(client):
        response = client.get(reverse("customers:list"), {"format": "csv"})
        assert response["Content-Type"].startswith("text/csv")
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))

    assert rows(as_user(manager))[1][2] == "13900001111"
    assert rows(as_user(consultant))[1][2] == "139****1111"


def test_the_customer_list_takes_the_same_queries_for_5_or_30_customers(as_user, store, consultant,
                                                                          django_assert_num_queries):
    client = as_user(consultant)
    for count in (5, 30):
        CustomerFactory.create_batch(count - Customer.objects.count(), dealership=store, consultant=consultant)
        # session, user, store (time zone), count, page; the idle timeout's session save (3)
        with django_assert_num_queries(8):
            assert client.get(reverse("customers:list")).status_code == 200


def test_the_customer_card_takes_the_same_queries_however_long_the_history(as_user, store, consultant, mine,
                                                                          django_assert_num_queries):
    client = as_user(consultant)
    url = reverse("customers:detail", args=[mine.pk])
    for round_ in range(2):
        VisitFactory.create_batch(3, dealership=store, customer=mine)
        TestDriveFactory.create_batch(2, customer=mine)
        order = OrderFactory(customer=mine, delivered_at=None)
        CallbackFactory(order=order, staff=consultant)
        CallbackFactory(order=None, service_visit=ServiceVisitFactory(customer=mine), dealership=store, staff=consultant)
        # session, user, store, customer, consultant; history, visits, test drives, orders + callbacks + staff,
        # services + callbacks + staff; the idle timeout's session save (3)
        with django_assert_num_queries(17):
            assert client.get(url).status_code == 200

"""The day's work list and the after-sales desk: callbacks due (overdue in red), service visits, callbacks."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import Callback, ServiceVisit
from tests.factories import CustomerFactory, OrderFactory, ServiceVisitFactory


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def delivered(store, consultant, now):
    """Three deliveries awaiting their 3-day callback: five days ago (overdue), two days ago, today."""
    return [OrderFactory(customer=CustomerFactory(dealership=store, consultant=consultant, name=f"车主{days}",
                                                  stage="real"),
                         consultant=consultant, ordered_at=now - dt.timedelta(days=days + 7),
                         delivered_at=now - dt.timedelta(days=days)) for days in (5, 2, 0)]


def test_today_lists_the_callbacks_due_with_the_overdue_one_in_red(as_user, consultant, delivered):
    response = as_user(consultant).get(reverse("aftersales:today"))
    tasks = response.context["tasks"]
    assert [t.customer.name for t in tasks] == ["车主5", "车主2", "车主0"]
    assert [t.overdue for t in tasks] == [True, False, False]
    assert response.content.decode().count('class="overdue-row"') == 1


def test_a_reached_callback_ends_the_task_and_an_unreached_one_does_not(as_user, consultant, delivered):
    client = as_user(consultant)
    url = reverse("aftersales:callback_new")
    client.post(url, {"order": delivered[1].pk, "reached": "no", "completed_at": "2025-03-10T10:00"})
    client.post(url, {"order": delivered[0].pk, "reached": "yes", "completed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    remaining = [t.customer.name for t in client.get(reverse("aftersales:today")).context["tasks"]]
    assert remaining == ["车主2", "车主0"]
    assert Callback.objects.get(order=delivered[0]).staff == consultant


def test_a_consultant_cannot_call_back_another_consultants_delivery(as_user, store, other_consultant, delivered):
    response = as_user(other_consultant).get(reverse("aftersales:callback_new"), {"order": delivered[0].pk})
    assert response.status_code == 404


def test_customers_without_a_follow_up_for_n_days_are_listed(as_user, store, consultant, now):
    CustomerFactory(dealership=store, consultant=consultant, name="久未联系", stage="target",
                    last_contact_at=now - dt.timedelta(days=20))
    CustomerFactory(dealership=store, consultant=consultant, name="昨天联系", stage="target",
                    last_contact_at=now - dt.timedelta(days=1))
    idle = [c.name for c in as_user(consultant).get(reverse("aftersales:today"), {"idle": 7}).context["idle"]]
    assert idle == ["久未联系"]


def test_an_advisor_opens_a_service_visit_by_phone_and_an_in_warranty_buyer_becomes_lifetime(as_user, store, advisor):
    buyer = CustomerFactory(dealership=store, phone="13811112222", stage="real")
    as_user(advisor).post(reverse("aftersales:service_visit_new"), {
        "phone": "138-1111-2222", "kind": "maintenance", "opened_at": "2025-03-10T09:00", "in_warranty": "on",
        "revenue": "880"})
    visit = ServiceVisit.objects.get()
    assert visit.customer == buyer and visit.advisor == advisor
    buyer.refresh_from_db()
    assert buyer.stage == "lifetime"


def test_an_unknown_phone_is_refused_next_to_the_field_and_nothing_is_written(as_user, advisor):
    response = as_user(advisor).post(reverse("aftersales:service_visit_new"), {
        "phone": "13800000000", "kind": "maintenance", "opened_at": "2025-03-10T09:00", "revenue": "0"})
    assert "phone" in response.context["form"].errors
    assert not ServiceVisit.objects.exists()


def test_closing_a_service_visit_makes_a_callback_due_for_the_advisor(as_user, store, advisor, now):
    visit = ServiceVisitFactory(customer=CustomerFactory(dealership=store), advisor=advisor,
                                opened_at=now - dt.timedelta(hours=3), closed_at=None)
    client = as_user(advisor)
    client.post(reverse("aftersales:service_visit_close", args=[visit.pk]),
                {"closed_at": timezone.localtime(now).strftime("%Y-%m-%dT%H:%M"), "revenue": "1280"})
    visit.refresh_from_db()
    assert visit.revenue == Decimal("1280") and visit.closed_at is not None
    tasks = client.get(reverse("aftersales:today")).context["tasks"]
    assert [(t.kind, t.subject_id) for t in tasks] == [("service", visit.pk)]


def test_the_service_visit_list_exports_csv_and_takes_fixed_queries(as_user, store, advisor,
                                                                      django_assert_num_queries):
    client = as_user(advisor)
    for count in (3, 20):
        ServiceVisitFactory.create_batch(count - ServiceVisit.objects.count(),
                                         customer=CustomerFactory(dealership=store), advisor=advisor)
        # session, user, store, count, page; the idle timeout's session save (3)
        with django_assert_num_queries(8):
            client.get(reverse("aftersales:service_visits"))
    export = client.get(reverse("aftersales:service_visits"), {"format": "csv"}).content.decode("utf-8-sig")
    assert len(export.strip().splitlines()) == 21


def test_today_takes_fixed_queries_however_many_tasks(as_user, store, consultant, now, django_assert_num_queries):
    client = as_user(consultant)
    for count in (2, 12):
        for _ in range(count // 2):
            OrderFactory(customer=CustomerFactory(dealership=store, consultant=consultant), consultant=consultant,
                         ordered_at=now - dt.timedelta(days=9), delivered_at=now - dt.timedelta(days=2))
        # session, user, store, deliveries awaiting callback, idle customers, follow-ups; session save (3)
        with django_assert_num_queries(9):
            client.get(reverse("aftersales:today"))

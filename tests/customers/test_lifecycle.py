"""The lifecycle rules of spec/domain.md, one test per rule."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from aftersales.services import callback_create, service_visit_create
from customers.models import Customer, StageChange
from customers.services import (customer_create, customer_mark_lost, customer_move_stage, customer_reactivate,
                                customer_update, normalize_phone)
from dealership.models import StaleMonth
from sales.services import order_create, order_deliver, test_drive_create, visit_create

CST = dt.timezone(dt.timedelta(hours=8))
MAR5 = dt.datetime(2025, 3, 5, 10, 0, tzinfo=CST)
MAR1 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=CST)

pytestmark = pytest.mark.django_db


def moves(customer: Customer) -> list[tuple[str, str]]:
    return list(customer.stage_changes.filter(kind="move").values_list("from_stage", "to_stage"))


@pytest.fixture
def lead(store, consultant):
    return customer_create(dealership=store, name="张三", phone="139 1234 5678", consultant=consultant,
                           source="list", created_at=MAR1)


def test_a_new_customer_starts_at_market_with_its_creation_in_the_history(lead):
    assert lead.stage == "market"
    assert moves(lead) == [("", "market")]
    assert lead.entered_market_at == MAR1


def test_a_walk_in_created_at_potential_passes_through_market_at_the_same_instant(store, consultant):
    walk_in = customer_create(dealership=store, stage="potential", created_at=MAR5, by=consultant)
    assert moves(walk_in) == [("", "market"), ("market", "potential")]
    assert walk_in.entered_market_at == walk_in.entered_potential_at == MAR5
    assert set(walk_in.stage_changes.values_list("by", flat=True)) == {consultant.pk}


def test_a_visit_makes_a_market_customer_potential(store, lead):
    visit_create(dealership=store, kind="showroom", occurred_at=MAR5, customer=lead)
    lead.refresh_from_db()
    assert lead.stage == "potential"
    assert lead.entered_potential_at == MAR5


@pytest.mark.parametrize("kind", ["offsite", "phone_in", "online"])
def test_a_call_or_enquiry_is_a_first_contact_too(store, lead, kind):
    visit_create(dealership=store, kind=kind, occurred_at=MAR5, customer=lead)
    lead.refresh_from_db()
    assert lead.stage == "potential"


def test_an_anonymous_visit_moves_no_one(store):
    visit = visit_create(dealership=store, kind="showroom", occurred_at=MAR5)
    assert visit.customer is None
    assert not StageChange.objects.exists()


def test_a_test_drive_makes_a_potential_customer_target_at_the_drives_own_time(store, lead, consultant):
    visit_create(dealership=store, kind="showroom", occurred_at=MAR1, customer=lead)
    test_drive_create(customer=lead, occurred_at=MAR5, consultant=consultant, by=consultant)
    lead.refresh_from_db()
    assert lead.stage == "target"
    assert lead.entered_target_at == MAR5
    last = lead.stage_changes.last()
    assert (last.from_stage, last.to_stage, last.at, last.by) == ("potential", "target", MAR5, consultant)


def test_a_test_drive_of_a_market_customer_records_the_skipped_potential_stage(lead):
    test_drive_create(customer=lead, occurred_at=MAR5)
    lead.refresh_from_db()
    assert moves(lead) == [("", "market"), ("market", "potential"), ("potential", "target")]
    assert lead.entered_potential_at == lead.entered_target_at == MAR5


def test_an_order_for_a_potential_customer_records_the_passage_through_target(store, lead):
    visit_create(dealership=store, kind="showroom", occurred_at=MAR1, customer=lead)
    order_create(customer=lead, ordered_at=MAR5, price=Decimal("150000"))
    lead.refresh_from_db()
    assert lead.stage == "real"
    assert moves(lead)[-2:] == [("potential", "target"), ("target", "real")]
    assert lead.entered_target_at == lead.entered_real_at == MAR5


def test_a_second_order_makes_a_buyer_loyal(lead):
    order_create(customer=lead, ordered_at=MAR1)
    order_create(customer=lead, ordered_at=MAR5)
    lead.refresh_from_db()
    assert lead.stage == "loyal"
    assert moves(lead)[-2:] == [("real", "lifetime"), ("lifetime", "loyal")]


def test_automatic_moves_never_go_backward(store, lead):
    order_create(customer=lead, ordered_at=MAR1)
    test_drive_create(customer=lead, occurred_at=MAR5)
    visit_create(dealership=store, kind="showroom", occurred_at=MAR5, customer=lead)
    lead.refresh_from_db()
    assert lead.stage == "real"


def test_an_in_warranty_service_visit_makes_a_buyer_lifetime(lead):
    order_create(customer=lead, ordered_at=MAR1)
    service_visit_create(customer=lead, opened_at=MAR5, in_warranty=True)
    lead.refresh_from_db()
    assert lead.stage == "lifetime"
    assert lead.entered_lifetime_at == MAR5


def test_an_out_of_warranty_service_visit_makes_a_buyer_loyal(lead):
    order_create(customer=lead, ordered_at=MAR1)
    service_visit_create(customer=lead, opened_at=MAR5, in_warranty=False)
    lead.refresh_from_db()
    assert lead.stage == "loyal"
    assert lead.entered_lifetime_at == lead.entered_loyal_at == MAR5


def test_a_service_visit_of_a_customer_who_bought_elsewhere_leaves_his_stage(store):
    outsider = customer_create(dealership=store, stage="potential", created_at=MAR1)
    service_visit_create(customer=outsider, opened_at=MAR5, in_warranty=False)
    outsider.refresh_from_db()
    assert outsider.stage == "potential"


def test_a_hand_move_can_go_backward_and_is_kept_in_the_history(lead, manager):
    customer_move_stage(customer=lead, stage="target", at=MAR1, by=manager)
    customer_move_stage(customer=lead, stage="potential", at=MAR5, by=manager)
    lead.refresh_from_db()
    assert lead.stage == "potential"
    assert moves(lead)[-1] == ("target", "potential")
    assert lead.entered_target_at == MAR1  # the first instant stays


def test_a_hand_move_forward_passes_through_skipped_stages(lead, manager):
    customer_move_stage(customer=lead, stage="target", at=MAR5, by=manager)
    assert moves(lead) == [("", "market"), ("market", "potential"), ("potential", "target")]


def test_a_pre_purchase_customer_can_be_marked_lost_with_a_reason(lead, consultant):
    customer_mark_lost(customer=lead, reason="买了别家", at=MAR5, by=consultant)
    lead.refresh_from_db()
    assert (lead.is_lost, lead.lost_reason, lead.lost_at) == (True, "买了别家", MAR5)
    entry = lead.stage_changes.get(kind="lost")
    assert (entry.from_stage, entry.to_stage, entry.by, entry.reason) == ("market", "market", consultant, "买了别家")


def test_a_buyer_cannot_be_marked_lost(lead):
    order_create(customer=lead, ordered_at=MAR1)
    with pytest.raises(ValidationError):
        customer_mark_lost(customer=lead, reason="x", at=MAR5)


def test_a_lost_mark_needs_a_reason(lead):
    with pytest.raises(ValidationError) as error:
        customer_mark_lost(customer=lead, reason="  ", at=MAR5)
    assert "reason" in error.value.message_dict


def test_a_lost_customer_can_be_reactivated(lead, manager):
    customer_mark_lost(customer=lead, reason="预算不足", at=MAR1)
    customer_reactivate(customer=lead, at=MAR5, by=manager)
    lead.refresh_from_db()
    assert not lead.is_lost and lead.lost_reason == ""
    assert lead.stage_changes.filter(kind="reactivated", by=manager, at=MAR5).exists()


def test_a_lost_customer_who_orders_after_all_is_reactivated(lead):
    customer_mark_lost(customer=lead, reason="预算不足", at=MAR1)
    order_create(customer=lead, ordered_at=MAR5)
    lead.refresh_from_db()
    assert lead.stage == "real" and not lead.is_lost


def test_an_order_cannot_be_delivered_before_it_was_ordered(lead):
    order = order_create(customer=lead, ordered_at=MAR5)
    with pytest.raises(ValidationError):
        order_deliver(order=order, delivered_at=MAR1)
    with pytest.raises(ValidationError):
        order_create(customer=lead, ordered_at=MAR5, delivered_at=MAR1)


def test_records_of_another_store_are_refused(lead, other_store):
    from tests.factories import UserFactory

    stranger = UserFactory(dealership=other_store)
    with pytest.raises(ValidationError) as error:
        test_drive_create(customer=lead, occurred_at=MAR5, consultant=stranger)
    assert "consultant" in error.value.message_dict


def test_a_callback_has_exactly_one_subject(lead):
    order = order_create(customer=lead, ordered_at=MAR1, delivered_at=MAR5)
    visit = service_visit_create(customer=lead, opened_at=MAR5, closed_at=MAR5)
    with pytest.raises(ValidationError):
        callback_create(order=order, service_visit=visit)
    with pytest.raises(ValidationError):
        callback_create()


def test_an_external_id_makes_a_create_idempotent(store, lead):
    first = visit_create(dealership=store, kind="showroom", occurred_at=MAR1, customer=lead, external_id="DMS-1")
    again = visit_create(dealership=store, kind="phone_in", occurred_at=MAR5, customer=lead, external_id="DMS-1")
    assert first.pk == again.pk
    again.refresh_from_db()
    assert again.kind == "phone_in"


def test_a_write_marks_the_months_it_touches_stale(store, lead):
    StaleMonth.objects.all().delete()
    order = order_create(customer=lead, ordered_at=MAR5)
    order_deliver(order=order, delivered_at=dt.datetime(2025, 4, 2, tzinfo=CST))
    assert set(StaleMonth.objects.values_list("period", flat=True)) == {dt.date(2025, 3, 1), dt.date(2025, 4, 1)}


def test_an_edit_marks_months_stale_only_when_it_changes_what_kpis_read(store, lead, other_consultant):
    StaleMonth.objects.all().delete()
    customer_update(customer=lead, name="王五", phone="139 0000 1111", intent="A", notes="想换 RAV4")
    assert not StaleMonth.objects.exists()  # nothing a KPI reads: nothing to recompute
    customer_update(customer=lead, consultant=lead.consultant)
    assert not StaleMonth.objects.exists()  # the same consultant again is no change
    customer_update(customer=lead, consultant=other_consultant)  # his by-person figures move from his start
    assert list(StaleMonth.objects.values_list("period", flat=True)) == [lead.created_at.astimezone(CST).date().replace(day=1)]


def test_a_month_is_the_stores_local_month(store, lead):
    StaleMonth.objects.all().delete()
    # 31 March 23:30 in Shanghai is still March there, although it is 15:30 UTC.
    visit_create(dealership=store, kind="showroom", occurred_at=dt.datetime(2025, 3, 31, 15, 30, tzinfo=dt.UTC))
    assert list(StaleMonth.objects.values_list("period", flat=True)) == [dt.date(2025, 3, 1)]


@pytest.mark.parametrize("raw, clean", [
    ("139 1234 5678", "13912345678"), ("+86 139-1234-5678", "13912345678"), ("008613912345678", "13912345678"),
    ("8613912345678", "13912345678"), ("13912345678.0", "13912345678"), ("", ""),
])
def test_phone_numbers_are_normalised(raw, clean):
    assert normalize_phone(raw) == clean


def test_a_phone_with_letters_is_refused():
    with pytest.raises(ValidationError):
        normalize_phone("139-abcd")

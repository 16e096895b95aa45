"""Customer pages: the list ("my customers" for a consultant), the customer card with its timeline,
and the lifecycle actions of this app (edit, lost, reactivate, hand move). Records of the sales floor
and after-sales are written by their own apps' pages; this app reads them through reverse relations
only, so that it imports nothing from the apps above it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customers.forms import CustomerCreateForm, CustomerFilterForm, CustomerForm, LostForm, StageMoveForm
from customers.models import Customer, Stage, StageChange
from customers.selectors import customer_get_for_user, customers_for_user
from customers.services import (customer_create, customer_mark_lost, customer_move_stage, customer_reactivate,
                                customer_update)
from dealership.models import Role, User
from dealership.selectors import consultants_of
from dealership.security import phone_for
from dealership.views import csv_response, form_error_from_service, page_querystring, wants_csv

PAGE_SIZE = 25


def _filtered(request: HttpRequest, form: CustomerFilterForm) -> QuerySet[Customer]:
    qs = customers_for_user(request.user).select_related("consultant", "dealership")
    if not form.is_valid():
        return qs
    data = form.cleaned_data
    if data["q"]:
        q = data["q"].strip()
        digits = "".join(ch for ch in q if ch.isdigit())
        cond = Q(name__icontains=q)
        if len(digits) >= 3:
            cond |= Q(phone__contains=digits)
        qs = qs.filter(cond)
    if data["stage"]:
        qs = qs.filter(stage=data["stage"])
    if data["intent"]:
        qs = qs.filter(intent=data["intent"])
    if data["lost"] == "yes":
        qs = qs.filter(is_lost=True)
    elif data["lost"] == "no":
        qs = qs.filter(is_lost=False)
    if data["idle"]:
        cutoff = timezone.now() - dt.timedelta(days=data["idle"])
        qs = qs.filter(Q(last_contact_at__lt=cutoff) | Q(last_contact_at__isnull=True))
    return qs


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET or None)
    qs = _filtered(request, form)
    if wants_csv(request):
        return csv_response(request, "customers", [
            _("ID"), _("Name"), _("Phone"), _("Stage"), _("Intent"), _("Lost"), _("Lost reason"),
            _("Consultant"), _("Source"), _("Created"), _("Last contact")],
            ((c.pk, c.name, phone_for(request.user, c.phone, export=True), c.get_stage_display(), c.intent, _("yes") if c.is_lost else "",
              c.lost_reason, c.consultant.display_name if c.consultant else "", c.get_source_display(),
              timezone.localtime(c.created_at).date(),
              timezone.localtime(c.last_contact_at).date() if c.last_contact_at else "")
             for c in qs.iterator(chunk_size=2000)))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "customers/list.html", {
        "form": form, "page": page, "query": page_querystring(request),
        "mine": request.user.role == Role.CONSULTANT,
    })


def _consultants_for(user: User):
    if user.role == Role.CONSULTANT or user.dealership is None:
        return None
    return consultants_of(user.dealership)


@login_required
def customer_new(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    if user.dealership is None:
        messages.error(request, _("Only staff of a store can add customers."))
        return redirect("customers:list")
    form = CustomerCreateForm(request.POST or None, consultants=_consultants_for(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        consultant = user if user.role == Role.CONSULTANT else data.get("consultant")
        try:
            customer = customer_create(
                dealership=user.dealership, name=data["name"], phone=data["phone"], source=data["source"],
                intent=data["intent"], notes=data["notes"], consultant=consultant, stage=data["stage"], by=user)
            if data["next_follow_up_on"]:
                customer_update(customer=customer, by=user, next_follow_up_on=data["next_follow_up_on"])
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Customer %(name)s added.") % {"name": customer})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "form_page.html", {
        "form": form, "title": _("New customer"), "nav": "customers",
    })


@login_required
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user
    customer = customer_get_for_user(user, pk)
    initial = {f: getattr(customer, f) for f in ("name", "phone", "source", "intent", "next_follow_up_on", "notes")}
    initial["consultant"] = customer.consultant_id
    form = CustomerForm(request.POST or None, initial=initial, consultants=_consultants_for(user))
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        if "consultant" not in form.fields:
            fields.pop("consultant", None)
        try:
            customer_update(customer=customer, by=user, **fields)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Customer saved."))
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "form_page.html", {
        "form": form, "title": _("Edit %(name)s") % {"name": customer}, "customer": customer,
        "nav": "customers",
    })


@dataclass
class TimelineEntry:
    at: dt.datetime
    kind: str  # css class suffix and icon key
    title: str
    detail: str = ""
    by: str = ""
    action_url: str = ""
    action_label: str = ""


def _timeline(customer: Customer) -> list[TimelineEntry]:
    """Every record of the customer, newest first. A fixed number of queries, whatever the history."""
    from django.urls import reverse

    entries: list[TimelineEntry] = []
    for change in customer.stage_changes.select_related("by").order_by("at", "id"):
        by = change.by.display_name if change.by else ""
        if change.kind == StageChange.Kind.LOST:
            entries.append(TimelineEntry(change.at, "lost", _("Marked lost"), change.reason, by))
        elif change.kind == StageChange.Kind.REACTIVATED:
            entries.append(TimelineEntry(change.at, "stage", _("Reactivated"), "", by))
        else:
            title = (_("Created at stage %(stage)s") % {"stage": change.get_to_stage_display()}
                     if not change.from_stage else
                     _("Stage: %(from)s → %(to)s") % {"from": change.get_from_stage_display(),
                                                       "to": change.get_to_stage_display()})
            entries.append(TimelineEntry(change.at, "stage", title, _reason_label(change.reason), by))
    for visit in customer.visits.select_related("consultant", "campaign"):
        detail = visit.notes
        if visit.campaign:
            detail = f"{_('Campaign')}: {visit.campaign.name}" + (f" · {detail}" if detail else "")
        entries.append(TimelineEntry(visit.occurred_at, "visit", visit.get_kind_display(), detail,
                                     visit.consultant.display_name if visit.consultant else ""))
    for drive in customer.test_drives.select_related("consultant"):
        entries.append(TimelineEntry(drive.occurred_at, "test_drive", _("Test drive"), drive.model,
                                     drive.consultant.display_name if drive.consultant else ""))
    for order in customer.orders.select_related("consultant").prefetch_related("callbacks__staff"):
        by = order.consultant.display_name if order.consultant else ""
        entry = TimelineEntry(order.ordered_at, "order", _("Order"),
                              _("%(model)s · price %(price)s") % {"model": order.model, "price": order.price}, by)
        if order.delivered_at is None:
            entry.action_url = reverse("sales:order_deliver", args=[order.pk])
            entry.action_label = _("Record delivery")
        entries.append(entry)
        if order.delivered_at:
            delivery = TimelineEntry(order.delivered_at, "delivery", _("Delivery"), order.model, by)
            if not any(cb.reached for cb in order.callbacks.all()):
                delivery.action_url = reverse("aftersales:callback_new") + f"?order={order.pk}"
                delivery.action_label = _("Record callback")
            entries.append(delivery)
        entries.extend(_callback_entries(order.callbacks.all()))
    for service in customer.service_visits.select_related("advisor").prefetch_related("callbacks__staff"):
        by = service.advisor.display_name if service.advisor else ""
        detail = _("%(kind)s · revenue %(revenue)s") % {"kind": service.get_kind_display(), "revenue": service.revenue}
        if service.in_warranty:
            detail += " · " + _("in warranty")
        entry = TimelineEntry(service.opened_at, "service", _("Service visit"), detail, by)
        if service.closed_at is None:
            entry.action_url = reverse("aftersales:service_visit_close", args=[service.pk])
            entry.action_label = _("Close")
        elif not any(cb.reached for cb in service.callbacks.all()):
            entry.action_url = reverse("aftersales:callback_new") + f"?service_visit={service.pk}"
            entry.action_label = _("Record callback")
        entries.append(entry)
        entries.extend(_callback_entries(service.callbacks.all()))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def _callback_entries(callbacks) -> list[TimelineEntry]:
    return [TimelineEntry(cb.completed_at, "callback",
                          _("Callback: reached") if cb.reached else _("Callback: not reached"), cb.notes,
                          cb.staff.display_name if cb.staff else "") for cb in callbacks]


def _reason_label(reason: str) -> str:
    labels = {
        "created": _("created"), "hand move": _("moved by hand"), "test_drive": _("test drive"),
        "order": _("order"), "repeat_order": _("second order"), "service": _("service visit"),
        "service_in_warranty": _("service visit in warranty"),
    }
    if reason.startswith("visit:"):
        return _("visit or call")
    return labels.get(reason, reason)


@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(request.user, pk)
    return render(request, "customers/detail.html", {
        "customer": customer,
        "timeline": _timeline(customer),
        "lost_form": LostForm(customer=customer),
        "stage_form": StageMoveForm(initial={"stage": customer.stage}),
        "stages": Stage.choices,
    })


@login_required
def customer_lost(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(request.user, pk)
    form = LostForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            customer_mark_lost(customer=customer, reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("%(name)s marked lost.") % {"name": customer})
            return redirect("customers:detail", pk=pk)
    return render(request, "form_page.html", {
        "form": form, "title": _("Mark %(name)s lost") % {"name": customer}, "customer": customer,
        "nav": "customers", "submit": _("Mark lost"), "danger": True,
    })


@login_required
@require_POST
def customer_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(request.user, pk)
    try:
        customer_reactivate(customer=customer, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(name)s reactivated.") % {"name": customer})
    return redirect("customers:detail", pk=pk)


@login_required
def customer_stage(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(request.user, pk)
    form = StageMoveForm(request.POST or None, initial={"stage": customer.stage})
    if request.method == "POST" and form.is_valid():
        try:
            customer_move_stage(customer=customer, stage=form.cleaned_data["stage"], by=request.user,
                                reason=form.cleaned_data["reason"] or "hand move")
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Stage saved."))
            return redirect("customers:detail", pk=pk)
    return render(request, "form_page.html", {
        "form": form, "title": _("Move %(name)s") % {"name": customer}, "customer": customer, "nav": "customers",
    })


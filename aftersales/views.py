"""After-sales pages and the day's work list: callbacks due (derived 3-day tasks), idle customers,
service visits (open, close) and the callback form."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.forms import CallbackForm, ServiceCloseForm, ServiceVisitForm
from aftersales.selectors import (CALLBACK_DAYS, deliveries_awaiting_callback, service_visit_get_for_user,
                                  service_visits_awaiting_callback, service_visits_for_user)
from aftersales.services import callback_create, service_visit_close, service_visit_create
from customers.models import PRE_PURCHASE
from customers.selectors import customer_get_for_user, customers_for_user
from customers.services import normalize_phone
from dealership.models import Role, User
from dealership.security import phone_for
from dealership.views import csv_response, form_error_from_service, page_querystring, wants_csv
from sales.selectors import order_get_for_user

# Open callback tasks older than this are no longer a day's work but a KPI miss: the list stops there.
CALLBACK_WINDOW_DAYS = 60
IDLE_DAYS_DEFAULT = 7
LIST_LIMIT = 100


@dataclass
class CallbackTask:
    kind: str  # "delivery" or "service"
    subject_id: int
    customer: object
    event_at: dt.datetime
    due_on: dt.date
    overdue: bool
    who: str
    what: str
    url: str


def _callback_tasks(user: User) -> list[CallbackTask]:
    now = timezone.now()
    since = now - dt.timedelta(days=CALLBACK_WINDOW_DAYS)
    today = timezone.localdate()
    tasks: list[CallbackTask] = []
    if user.role != Role.ADVISOR:
        for order in deliveries_awaiting_callback(user, since=since)[:LIST_LIMIT]:
            due = timezone.localtime(order.delivered_at).date() + dt.timedelta(days=CALLBACK_DAYS)
            tasks.append(CallbackTask("delivery", order.pk, order.customer, order.delivered_at, due, today > due,
                                      order.consultant.display_name if order.consultant else "",
                                      _("Delivery of %(model)s") % {"model": order.model},
                                      reverse("aftersales:callback_new") + f"?order={order.pk}"))
    if user.role != Role.CONSULTANT:
        for visit in service_visits_awaiting_callback(user, since=since)[:LIST_LIMIT]:
            due = timezone.localtime(visit.closed_at).date() + dt.timedelta(days=CALLBACK_DAYS)
            tasks.append(CallbackTask("service", visit.pk, visit.customer, visit.closed_at, due, today > due,
                                      visit.advisor.display_name if visit.advisor else "",
                                      visit.get_kind_display(),
                                      reverse("aftersales:callback_new") + f"?service_visit={visit.pk}"))
    tasks.sort(key=lambda t: t.event_at)
    return tasks


@login_required
def today(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    try:
        idle_days = max(1, min(365, int(request.GET.get("idle", IDLE_DAYS_DEFAULT))))
    except ValueError:
        idle_days = IDLE_DAYS_DEFAULT
    tasks = _callback_tasks(user)
    if wants_csv(request):
        return csv_response(request, "callbacks_due", [_("Kind"), _("Customer"), _("Phone"), _("Event"), _("Due on"),
                                              _("Overdue"), _("Staff")],
                            ((t.what, t.customer, phone_for(user, t.customer.phone, export=True), timezone.localtime(t.event_at).date(), t.due_on,
                              _("yes") if t.overdue else "", t.who) for t in tasks))
    cutoff = timezone.now() - dt.timedelta(days=idle_days)
    idle = (customers_for_user(user).filter(is_lost=False, stage__in=[s.value for s in PRE_PURCHASE])
            .filter(Q(last_contact_at__lt=cutoff) | Q(last_contact_at__isnull=True))
            .select_related("consultant").order_by("last_contact_at", "id"))
    follow_ups = (customers_for_user(user).filter(is_lost=False, next_follow_up_on__lte=timezone.localdate())
                  .select_related("consultant").order_by("next_follow_up_on", "id"))
    return render(request, "aftersales/today.html", {
        "tasks": tasks, "overdue_count": sum(t.overdue for t in tasks), "idle": idle[:LIST_LIMIT],
        "idle_days": idle_days, "follow_ups": follow_ups[:LIST_LIMIT], "query": page_querystring(request),
        "window_days": CALLBACK_WINDOW_DAYS, "today_date": timezone.localdate(),
    })


@login_required
def service_visit_list(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    qs = service_visits_for_user(user).select_related("customer", "advisor")
    state = request.GET.get("state", "")
    if state == "open":
        qs = qs.filter(closed_at__isnull=True)
    elif state == "closed":
        qs = qs.filter(closed_at__isnull=False)
    if request.GET.get("mine") and user.role == Role.ADVISOR:
        qs = qs.filter(advisor=user)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(customer__name__icontains=q) | Q(customer__phone__contains=q) | Q(vin__icontains=q))
    if wants_csv(request):
        return csv_response(request, "service_visits", [_("ID"), _("Customer"), _("Phone"), _("Kind"), _("VIN"),
                                               _("Opened at"), _("Closed at"), _("Revenue"), _("In warranty"),
                                               _("Advisor")],
                            ((v.pk, v.customer, phone_for(user, v.customer.phone, export=True), v.get_kind_display(), v.vin,
                              timezone.localtime(v.opened_at).strftime("%Y-%m-%d %H:%M"),
                              timezone.localtime(v.closed_at).strftime("%Y-%m-%d %H:%M") if v.closed_at else "",
                              v.revenue, _("yes") if v.in_warranty else "",
                              v.advisor.display_name if v.advisor else "") for v in qs.iterator(chunk_size=2000)))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "aftersales/service_visits.html", {
        "page": page, "query": page_querystring(request), "state": state, "q": q,
    })


def _form_page(request, form, title, customer=None, submit=None, cancel_url=None) -> HttpResponse:
    return render(request, "form_page.html", {
        "form": form, "title": title, "customer": customer, "nav": "service", "submit": submit,
        "cancel_url": cancel_url or reverse("aftersales:service_visits"),
    })


@login_required
def service_visit_new(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    customer = None
    customer_pk = request.GET.get("customer", "")
    if customer_pk:
        customer = customer_get_for_user(user, int(customer_pk) if customer_pk.isdigit() else 0)
    form = ServiceVisitForm(request.POST or None, with_phone=customer is None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        phone = data.pop("phone", None)
        if customer is None:
            customer = _customer_by_phone(user, phone, form)
        if customer is not None:
            try:
                service_visit_create(customer=customer, by=user,
                                     advisor=user if user.role == Role.ADVISOR else None, **data)
            except ValidationError as error:
                form_error_from_service(form, error)
            else:
                messages.success(request, _("Service visit opened for %(name)s.") % {"name": customer})
                return redirect("aftersales:service_visits")
    return _form_page(request, form, _("Open a service visit"), customer)


def _customer_by_phone(user: User, phone: str, form) -> object | None:
    try:
        normal = normalize_phone(phone)
    except ValidationError as error:
        form_error_from_service(form, error)
        return None
    found = customers_for_user(user).filter(phone=normal).select_related("dealership").order_by("id").first()
    if found is None:
        form.add_error("phone", _("No customer of this store has this phone number. Add the customer first."))
    return found


@login_required
def service_visit_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    visit = service_visit_get_for_user(request.user, pk)
    form = ServiceCloseForm(request.POST or None, initial={"revenue": visit.revenue})
    if request.method == "POST" and form.is_valid():
        try:
            service_visit_close(service_visit=visit, **form.cleaned_data)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Service visit closed: a 3-day callback is now due."))
            return redirect("aftersales:service_visits")
    return _form_page(request, form, _("Close service visit: %(customer)s") % {"customer": visit.customer},
                      submit=_("Close"))


@login_required
def callback_new(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    params = request.POST if request.method == "POST" else request.GET
    order_id, visit_id = params.get("order", ""), params.get("service_visit", "")
    order = visit = None
    if order_id.isdigit():
        order = order_get_for_user(user, int(order_id))
    elif visit_id.isdigit():
        visit = service_visit_get_for_user(user, int(visit_id))
    else:
        raise Http404("callback without a subject")
    subject = order or visit
    form = CallbackForm(request.POST or None, initial={"reached": "yes"})
    if request.method == "POST" and form.is_valid():
        try:
            callback_create(order=order, service_visit=visit, staff=user, **form.cleaned_data)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Callback recorded."))
            return redirect("aftersales:today")
    title = (_("Callback after delivery: %(customer)s") if order else
             _("Callback after service: %(customer)s")) % {"customer": subject.customer}
    return render(request, "aftersales/callback_form.html", {
        "form": form, "title": title, "order": order, "visit": visit, "customer": subject.customer,
        "nav": "callbacks" if user.role != Role.CONSULTANT else "today",
    })

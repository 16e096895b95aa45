"""Sales-floor pages: each parses a form, calls one sales service and returns to the customer card."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from campaigns.selectors import campaigns_for_user
from customers.models import Customer
from customers.selectors import customer_get_for_user
from dealership.models import Role, User
from dealership.views import form_error_from_service
from sales.forms import DeliveryForm, OrderForm, TestDriveForm, VisitForm
from sales.selectors import order_get_for_user
from sales.services import order_create, order_deliver, test_drive_create, visit_create


def _consultant(user: User, customer: Customer | None) -> User | None:
    """The consultant a record is credited to: the one who enters it, else the customer's own."""
    if user.role == Role.CONSULTANT:
        return user
    return customer.consultant if customer is not None else None


def _form_page(request, form, title, customer=None, submit=None) -> HttpResponse:
    return render(request, "form_page.html", {
        "form": form, "title": title, "customer": customer, "nav": "customers", "submit": submit,
    })


def _done(request, customer: Customer, message: str, before: str) -> HttpResponse:
    customer.refresh_from_db(fields=["stage"])
    if customer.stage != before:
        message += " " + _("Stage is now %(stage)s.") % {"stage": customer.get_stage_display()}
    messages.success(request, message)
    return redirect("customers:detail", pk=customer.pk)


@login_required
def visit_new(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    customer = None
    customer_pk = request.GET.get("customer") or request.POST.get("customer")
    if customer_pk:
        customer = customer_get_for_user(user, int(customer_pk) if str(customer_pk).isdigit() else 0)
    store = customer.dealership if customer else user.dealership
    if store is None:
        messages.error(request, _("Only staff of a store can log visits."))
        return redirect("home")
    form = VisitForm(request.POST or None, campaigns=campaigns_for_user(user).filter(dealership=store))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        before = customer.stage if customer else ""
        try:
            visit_create(dealership=store, customer=customer, consultant=_consultant(user, customer), by=user, **data)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            if customer is None:
                messages.success(request, _("Anonymous visit logged."))
                return redirect("customers:list")
            return _done(request, customer, _("Visit logged."), before)
    title = _("Log a visit or call") + (f": {customer}" if customer else "")
    return _form_page(request, form, title, customer)


def _customer_event(request: HttpRequest, customer_pk: int, *, form_class, service, done: str, title: str,
                    **form_kwargs) -> HttpResponse:
    """A test drive or an order: one form, one service call, back to the card with the stage it made."""
    user: User = request.user
    customer = customer_get_for_user(user, customer_pk)
    form = form_class(request.POST or None, **{k: v(customer) for k, v in form_kwargs.items()})
    if request.method == "POST" and form.is_valid():
        before = customer.stage
        try:
            service(customer=customer, consultant=_consultant(user, customer), by=user, **form.cleaned_data)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            return _done(request, customer, done, before)
    return _form_page(request, form, title % {"name": customer}, customer)


@login_required
def test_drive_new(request: HttpRequest, customer_pk: int) -> HttpResponse:
    return _customer_event(request, customer_pk, form_class=TestDriveForm, service=test_drive_create,
                           done=_("Test drive recorded."), title=_("Record a test drive: %(name)s"))


@login_required
def order_new(request: HttpRequest, customer_pk: int) -> HttpResponse:
    return _customer_event(
        request, customer_pk, form_class=OrderForm, service=order_create, done=_("Order recorded."),
        title=_("Record an order: %(name)s"),
        campaigns=lambda c: campaigns_for_user(request.user).filter(dealership_id=c.dealership_id))


@login_required
def order_deliver_view(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user
    order = order_get_for_user(user, pk)
    form = DeliveryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order_deliver(order=order, delivered_at=form.cleaned_data["delivered_at"], by=user)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Delivery recorded: a 3-day callback is now due."))
            return redirect("customers:detail", pk=order.customer_id)
    return _form_page(request, form, _("Record delivery: %(model)s") % {"model": order.model}, order.customer)

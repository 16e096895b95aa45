"""Marketing pages: the campaign list, campaign forms, cost entries and the monthly traffic plans.
A campaign's own page (metrics, targets, break-even) is a KPI page: kpis.views.campaign_report."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.forms import CampaignCostForm, CampaignForm, TrafficPlanForm
from campaigns.models import Channel
from campaigns.selectors import campaign_get_for_user, campaigns_for_user, traffic_plans_for_user
from campaigns.services import CAMPAIGN_FIELDS, campaign_cost_create, campaign_create, campaign_update, traffic_plan_set
from dealership.models import Role, User
from dealership.views import csv_response, form_error_from_service, page_querystring, roles_required, wants_csv

MARKETING_ROLES = (Role.MARKETING, Role.MANAGER, Role.GROUP_MANAGER)


@roles_required(*MARKETING_ROLES)
def campaign_list(request: HttpRequest) -> HttpResponse:
    qs = (campaigns_for_user(request.user).select_related("dealership")
          .annotate(cost_total=Sum("costs__amount"), cost_entries=Count("costs")).order_by("-starts_on", "id"))
    channel = request.GET.get("channel", "")
    if channel:
        qs = qs.filter(channel=channel)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q))
    if wants_csv(request):
        return csv_response(request, "campaigns", [_("ID"), _("Store"), _("Name"), _("Channel"), _("Starts on"),
                                          _("Ends on"), _("Budget"), _("Cost entered"), _("Reach"), _("Enquiries"),
                                          _("Invitations"), _("Planned attendance")],
                            ((c.pk, c.dealership.code, c.name, c.get_channel_display(), c.starts_on, c.ends_on,
                              c.budget, c.cost_total or 0, c.reach, c.inquiries, c.invited, c.planned_attendees)
                             for c in qs))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "campaigns/list.html", {
        "page": page, "query": page_querystring(request), "channels": Channel.choices, "channel": channel, "q": q,
        "today": timezone.localdate(),
    })


def _campaign_form_page(request, form, title, campaign=None) -> HttpResponse:
    return render(request, "form_page.html", {
        "form": form, "title": title, "nav": "campaigns",
        "cancel_url": reverse("kpis:campaign", args=[campaign.pk]) if campaign else reverse("campaigns:list"),
    })


@roles_required(*MARKETING_ROLES)
def campaign_new(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    if user.dealership is None:
        messages.error(request, _("Only staff of a store can create campaigns."))
        return redirect("campaigns:list")
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(dealership=user.dealership,
                                       **{f: form.cleaned_data[f] for f in CAMPAIGN_FIELDS})
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Campaign %(name)s created.") % {"name": campaign.name})
            return redirect("kpis:campaign", pk=campaign.pk)
    return _campaign_form_page(request, form, _("New campaign"))


@roles_required(*MARKETING_ROLES)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_get_for_user(request.user, pk)
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            campaign_update(campaign=campaign, **{f: form.cleaned_data[f] for f in CAMPAIGN_FIELDS})
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("kpis:campaign", pk=campaign.pk)
    return _campaign_form_page(request, form, _("Edit %(name)s") % {"name": campaign.name}, campaign)


@roles_required(*MARKETING_ROLES)
def campaign_cost_add(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_get_for_user(request.user, pk)
    form = CampaignCostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign_cost_create(campaign=campaign, **form.cleaned_data)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Cost entry added."))
            return redirect("kpis:campaign", pk=campaign.pk)
    return render(request, "form_page.html", {
        "form": form, "title": _("Add a cost: %(name)s") % {"name": campaign.name}, "nav": "campaigns",
        "cancel_url": reverse("kpis:campaign", args=[campaign.pk]),
    })


@roles_required(*MARKETING_ROLES)
def traffic_plans(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    plans = traffic_plans_for_user(user).select_related("dealership").order_by("-period", "dealership__code")
    if wants_csv(request):
        return csv_response(request, "traffic_plans", [_("Store"), _("Month"), _("Planned traffic")],
                            ((p.dealership.code, p.period.strftime("%Y-%m"), p.planned_traffic) for p in plans))
    next_month = (timezone.localdate().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    form = TrafficPlanForm(request.POST or None, initial={"period": next_month})
    if request.method == "POST":
        if user.dealership is None:
            form.add_error(None, _("Only staff of a store can set its plan."))
        elif form.is_valid():
            try:
                traffic_plan_set(dealership=user.dealership, **form.cleaned_data)
            except ValidationError as error:
                form_error_from_service(form, error)
            else:
                messages.success(request, _("Plan for %(month)s saved.") % {
                    "month": form.cleaned_data["period"].strftime("%Y-%m")})
                return redirect("campaigns:traffic_plans")
    return render(request, "campaigns/traffic_plans.html", {
        "form": form, "plans": plans[:36], "query": page_querystring(request),
    })

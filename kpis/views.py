"""KPI pages: the manager's dashboard, alerts, targets, the recompute button, stores side by side,
channel ROI, the customer base, and each campaign's report with its break-even chart.

They read only the KPI tables (KpiValue, ChannelValue, CampaignMetric, KpiTarget, KpiAlert), which
kpis.services fills in the background; the one exception is the paginated list of lapsed customers,
the records behind a figure.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.forms import CampaignCostForm
from campaigns.models import Channel
from campaigns.selectors import campaign_get_for_user
from customers.models import Stage
from dealership.models import Dealership, Role, User
from dealership.selectors import dealerships_for_user
from dealership.security import phone_for
from dealership.views import csv_response, form_error_from_service, page_querystring, roles_required, wants_csv
from kpis import charts
from kpis.forms import AlertCloseForm, KpiTargetForm
from kpis.models import RecomputeJob
from kpis.registry import FAMILIES, KPIS, STAGES, status_of
from kpis.selectors import (alert_get_for_user, alerts_for_user, campaign_metrics, channel_values, compare_stores,
                            dashboard_store, kpi_def, kpi_label, lapsed_customers_for_user, latest_period,
                            months_back, parse_period, person_values, recompute_job_get_for_user, store_values,
                            StoreValues)
from kpis.services import kpi_alert_close, kpi_target_set, recompute_request, targets_for

MANAGERS = (Role.MANAGER, Role.GROUP_MANAGER)
MARKETING = (Role.MARKETING, Role.MANAGER, Role.GROUP_MANAGER)
AFTERSALES = (Role.ADVISOR, Role.MANAGER, Role.GROUP_MANAGER, Role.MARKETING)

MAIN_TILES = ["traffic", "traffic_achievement", "orders", "deliveries", "close_rate", "test_drive_rate",
              "callback_3d_sales", "callback_3d_service", "aftersales_revenue", "new_car_gross_profit",
              "churn_rate", "csi_rank"]
TREND_CODES = ["traffic_achievement", "close_rate", "callback_3d_sales", "churn_rate"]
GATES = ["capture_rate", "retention_rate", "funnel_close_rate", "return_rate", "keep_rate"]
PERSON_CODES = ["close_rate", "test_drives", "callback_3d_sales", "orders"]
# How long built dashboard figures are kept (their key is their content, so this only bounds memory).
DASHBOARD_CHARTS_SECONDS = 6 * 3600
SEGMENTS = ["frequent_customers", "occasional_customers", "lapsed_12m"]
COMPARE_CODES = ["traffic", "orders", "deliveries", "close_rate", "callback_3d_sales", "aftersales_revenue",
                 "churn_rate", "csi_score"]
CAMPAIGN_TARGETS = ["messages_delivered", "inquiry_rate", "info_retention_rate", "invite_to_store_rate",
                    "periodic_close_rate"]


def _store_and_period(request: HttpRequest) -> tuple[Dealership | None, dt.date]:
    store = dashboard_store(request.user, request.GET.get("store"))
    period = parse_period(request.GET.get("period"))
    if period is None:
        period = (latest_period(store) if store else None) or timezone.localdate().replace(day=1)
    return store, period


def _page(request: HttpRequest) -> tuple[Dealership | None, dt.date, dict]:
    store, period = _store_and_period(request)
    return store, period, {**_picker(request.user, store, period), "query": page_querystring(request)}


def _unit(code: str) -> str:
    definition = kpi_def(code)
    return definition.unit if definition else "count"


def _picker(user: User, store: Dealership | None, period: dt.date) -> dict:
    return {"stores": list(dealerships_for_user(user).order_by("code")), "store": store, "period": period,
            "period_choices": months_back(max(period, timezone.localdate().replace(day=1)), 36)[::-1]}


@roles_required(*MANAGERS)
def dashboard(request: HttpRequest) -> HttpResponse:
    store, period, context = _page(request)
    if store is None:
        return render(request, "kpis/dashboard.html", context)
    targets = targets_for(store)
    values = store_values(store, period, 24)
    people = person_values(store, period, PERSON_CODES)
    channels = _channel_rows(channel_values(store, [period]))
    open_alerts = alerts_for_user(request.user).filter(dealership=store, closed_at__isnull=True)
    all_tiles = values.tiles(KPIS, targets)
    families = [(label_zh if _is_zh() else label, [t for t in all_tiles if KPIS[t.code].family == key])
                for key, (label, label_zh) in FAMILIES.items()]
    context.update({
        **_dashboard_charts(values, targets, people, channels),
        "tiles": values.tiles(MAIN_TILES, targets), "open_alerts": list(open_alerts[:5]),
        "open_alerts_count": open_alerts.count(), "families": [f for f in families if f[1]],
        "has_data": bool(values.current),
    })
    return render(request, "kpis/dashboard.html", context)


def _dashboard_charts(values: StoreValues, targets: dict, people: dict, channels: list) -> dict[str, object]:
    """The dashboard's figures, memoised on exactly what draws them (the KPI rows read above, the
    targets and the language): building them through plotly's validated objects takes most of the page's
    time, and the KPI tables change only when a recompute writes them, so a repeat view reuses them. A
    content key needs no invalidation: a recompute or a new target changes the inputs, hence the key."""
    lines = {code: (t.target, t.control_line) for code, t in targets.items()}
    key = "kpis:dashboard-charts:" + hashlib.sha256(repr(
        (get_language(), values.periods, sorted(values.dense.items()), sorted(lines.items()),
         sorted(people.items()), channels)).encode()).hexdigest()
    built = cache.get(key)
    if built is None:
        built = _dashboard_charts_build(values, targets, people, channels)
        cache.set(key, built, timeout=DASHBOARD_CHARTS_SECONDS)
    return built


def _dashboard_charts_build(values: StoreValues, targets: dict, people: dict, channels: list) -> dict[str, object]:
    trend_charts = [charts.trend(f"trend-{code}", kpi_label(code), _unit(code), values.periods,
                                 values.series(code), targets.get(code)) for code in TREND_CODES]
    stage_names = {code: (zh if _is_zh() else en) for code, en, zh in STAGES}
    funnel = charts.capability_curve(
        "capability", [(stage_names[s], values.value(f"stage_{s}")) for s in Stage.values],
        [(kpi_label(code), values.value(code)) for code in GATES])
    spread = charts.distribution("distribution", [(kpi_label(c), _unit(c), people.get(c, [])) for c in PERSON_CODES])
    roi = charts.channel_roi("channel-roi", channels)
    last12 = slice(-12, None)
    base = charts.segments("segments", values.periods[last12],
                           [(kpi_label(c), values.series(c)[last12]) for c in SEGMENTS],
                           (kpi_label("churn_rate"), values.series("churn_rate")[last12]))
    rank = charts.ranks("ranks", values.periods, [(kpi_label(c), values.series(c)) for c in ("csi_rank", "ssi_rank")],
                        [(kpi_label(c), values.series(c)) for c in ("csi_score", "ssi_score")])
    return {"trends": trend_charts, "funnel": funnel, "spread": spread, "roi": roi, "base": base, "rank": rank}


def _is_zh() -> bool:
    return (get_language() or "").startswith("zh")


def _channel_rows(rows) -> list[tuple[str, float, float, float | None, int]]:
    labels = dict(Channel.choices)
    out = [(str(labels.get(r.channel, r.channel)), float(r.cost), float(r.gross_profit), r.roi, r.campaigns)
           for r in rows if r.channel]
    overall = [r for r in rows if not r.channel]
    out += [(_("All channels"), float(r.cost), float(r.gross_profit), r.roi, r.campaigns) for r in overall]
    return out


@roles_required(*MANAGERS)
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    store, period = _store_and_period(request)
    if store is None:
        return csv_response(request, "kpis", ["code"], [])
    targets = targets_for(store)
    tiles = store_values(store, period, 2).tiles(KPIS, targets)
    return csv_response(request, f"kpis_{store.code}_{period:%Y-%m}",
                        ["dealership", "period", "code", _("KPI"), "value", "numerator", "denominator", "target",
                         "control_line", "status"],
                        ((store.code, f"{period:%Y-%m}", t.code, t.name, t.value, t.numerator, t.denominator,
                          t.target.target if t.target else None, t.target.control_line if t.target else None,
                          t.status) for t in tiles))


@roles_required(*MANAGERS)
def compare_view(request: HttpRequest) -> HttpResponse:
    period = parse_period(request.GET.get("period"))
    if period is None:
        store = dashboard_store(request.user, None)
        period = (latest_period(store) if store else None) or timezone.localdate().replace(day=1)
    stores, values = compare_stores(request.user, period, COMPARE_CODES)
    names = [s.name for s in stores]
    chart = charts.compare("compare", names, [(kpi_label(c), _unit(c), [values[s.pk].get(c) for s in stores])
                                              for c in COMPARE_CODES[:4]])
    rows = [(s, [(charts.fmt(values[s.pk].get(c), _unit(c))) for c in COMPARE_CODES]) for s in stores]
    if wants_csv(request):
        return csv_response(request, f"stores_{period:%Y-%m}", ["dealership", "name", *COMPARE_CODES],
                            ([s.code, s.name, *[values[s.pk].get(c) for c in COMPARE_CODES]] for s in stores))
    return render(request, "kpis/compare.html", {
        **_picker(request.user, None, period), "chart": chart, "rows": rows,
        "headers": [kpi_label(c) for c in COMPARE_CODES], "query": page_querystring(request),
    })


@roles_required(*MANAGERS)
def alerts(request: HttpRequest) -> HttpResponse:
    qs = alerts_for_user(request.user).order_by("closed_at", "-period", "code")
    state = request.GET.get("state", "open")
    if state == "open":
        qs = qs.filter(closed_at__isnull=True)
    elif state == "closed":
        qs = qs.filter(closed_at__isnull=False)
    if wants_csv(request):
        return csv_response(request, "kpi_alerts", ["dealership", "period", "code", _("KPI"), "value", "opened_at",
                                           "corrective_action", "closed_at", "closed_by"],
                            ((a.dealership.code, f"{a.period:%Y-%m}", a.code, kpi_label(a.code), a.value,
                              timezone.localtime(a.opened_at).isoformat(), a.corrective_action,
                              timezone.localtime(a.closed_at).isoformat() if a.closed_at else "",
                              a.closed_by.display_name if a.closed_by else "") for a in qs))
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    for alert in page:
        alert.name = kpi_label(alert.code)
        alert.unit = _unit(alert.code)
        alert.shown = charts.fmt(alert.value, alert.unit)
    return render(request, "kpis/alerts.html", {
        "page": page, "state": state, "query": page_querystring(request), "form": AlertCloseForm(),
    })


@roles_required(*MANAGERS)
def alert_close(request: HttpRequest, pk: int) -> HttpResponse:
    alert = alert_get_for_user(request.user, pk)
    form = AlertCloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            kpi_alert_close(alert=alert, corrective_action=form.cleaned_data["corrective_action"], by=request.user)
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Alert closed with its corrective action."))
            return redirect("kpis:alerts")
    return render(request, "form_page.html", {
        "form": form, "nav": "alerts", "cancel_url": reverse("kpis:alerts"), "submit": _("Close the alert"),
        "title": _("Answer the alert: %(kpi)s, %(month)s") % {"kpi": kpi_label(alert.code),
                                                             "month": alert.period.strftime("%Y-%m")},
        "intro": _("Value %(value)s, beyond its control line.") % {"value": charts.fmt(alert.value, _unit(alert.code))},
    })


@roles_required(*MANAGERS)
def targets(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    store = dashboard_store(user, request.GET.get("store"))
    allow_default = user.is_superuser or user.role == Role.GROUP_MANAGER
    form = KpiTargetForm(request.POST or None, allow_default=allow_default)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        for_all = data.get("for_all_stores", False)
        try:
            kpi_target_set(dealership=None if for_all else store, code=data["code"], target=data["target"],
                           control_line=data["control_line"], direction=data["direction"])
        except ValidationError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Target for %(kpi)s saved.") % {"kpi": kpi_label(data["code"])})
            return redirect(request.get_full_path())
    resolved = targets_for(store) if store else {}
    rows = [(code, kpi_label(code), resolved[code]) for code in KPIS if code in resolved]
    if wants_csv(request):
        return csv_response(request, "kpi_targets", ["code", _("KPI"), "target", "control_line", "direction", "scope"],
                            ((c, n, t.target, t.control_line, t.direction, "store" if t.dealership_id else "default")
                             for c, n, t in rows))
    return render(request, "kpis/targets.html", {
        "form": form, "rows": rows, "store": store, "stores": list(dealerships_for_user(user).order_by("code")),
        "query": page_querystring(request),
    })


@roles_required(*MANAGERS)
@require_POST
def recompute(request: HttpRequest) -> JsonResponse:
    store = dashboard_store(request.user, request.POST.get("store"))
    job = recompute_request(user=request.user, dealership=store)
    return JsonResponse({"task_id": job.task_id,
                         "status_url": reverse("kpis:recompute_status", args=[job.task_id])}, status=202)


@roles_required(*MANAGERS)
def recompute_status(request: HttpRequest, task_id: str) -> JsonResponse:
    job = recompute_job_get_for_user(request.user, task_id)
    return JsonResponse({"state": job.state, "state_label": str(RecomputeJob.State(job.state).label),
                         "progress": job.progress, "error": job.error})


@roles_required(*MARKETING)
def channels(request: HttpRequest) -> HttpResponse:
    store, period, context = _page(request)
    if store is None:
        return render(request, "kpis/channels.html", context)
    periods = months_back(period, 12)
    rows = list(channel_values(store, periods))
    if wants_csv(request):
        return csv_response(request, f"channel_roi_{store.code}", ["period", "channel", "campaigns", "cost", "gross_profit", "roi"],
                            ((f"{r.period:%Y-%m}", r.channel or "all", r.campaigns, r.cost, r.gross_profit, r.roi)
                             for r in rows))
    # Twelve months summed per channel: ROI of the sums, not the mean of monthly ROIs.
    totals: dict[str, list] = {}
    for r in rows:
        t = totals.setdefault(r.channel, [0.0, 0.0, 0])
        t[0] += float(r.cost)
        t[1] += float(r.gross_profit)
        t[2] += r.campaigns
    labels = dict(Channel.choices)
    summed = [(str(labels.get(c, c)) if c else _("All channels"), cost, gp, (gp - cost) / cost if cost else None, n)
              for c, (cost, gp, n) in sorted(totals.items(), key=lambda kv: (kv[0] == "", kv[0]))]
    context.update({"chart": charts.channel_roi("channel-roi", summed), "rows": rows, "labels": labels,
                    "first": periods[0]})
    return render(request, "kpis/channels.html", context)


@roles_required(*AFTERSALES)
def customer_base(request: HttpRequest) -> HttpResponse:
    store, period, context = _page(request)
    if store is None:
        return render(request, "kpis/customer_base.html", context)
    values = store_values(store, period, 24)
    codes = ["customer_base", "active_12m", "frequent_customers", "occasional_customers", "lapsed_12m",
             "new_customers", "churn_rate", "callback_3d_service"]
    context.update({
        "tiles": values.tiles(codes, targets_for(store)),
        "chart": charts.segments("segments", values.periods, [(kpi_label(c), values.series(c)) for c in SEGMENTS],
                                 (kpi_label("churn_rate"), values.series("churn_rate"))),
    })
    return render(request, "kpis/customer_base.html", context)


@roles_required(*AFTERSALES)
def lapsed(request: HttpRequest) -> HttpResponse:
    qs = lapsed_customers_for_user(request.user, as_of=timezone.now())
    if wants_csv(request):
        return csv_response(request, "lapsed_customers", [_("ID"), _("Name"), _("Phone"), _("Stage"), _("Last service visit")],
                            ((c.pk, c.name, phone_for(request.user, c.phone, export=True), c.get_stage_display(),
                              timezone.localtime(c.last_service_at).date() if c.last_service_at else "")
                             for c in qs.iterator(chunk_size=2000)))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "kpis/lapsed.html", {"page": page, "query": page_querystring(request)})


@roles_required(*MARKETING)
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_get_for_user(request.user, pk)
    metrics = campaign_metrics(campaign)
    costs = list(campaign.costs.all())
    targets = targets_for(campaign.dealership)

    def value(code: str) -> float | None:
        return metrics[code].value if code in metrics else None

    attendees = value("attendees")
    attendance = attendees if attendees else float(campaign.planned_attendees)
    contribution = (float(campaign.contribution_per_deal) if campaign.contribution_per_deal else
                    (metrics["break_even_deals"].denominator if "break_even_deals" in metrics else None))
    fixed, variable = float(campaign.fixed_cost), float(campaign.variable_cost_per_attendee)
    deals = value("deals")
    deal_rate = deals / attendees if attendees and deals else None
    chart = charts.break_even("break-even", fixed=fixed, variable=variable, contribution=contribution,
                              attendance=attendance, deal_rate=deal_rate)
    five = []
    for code in CAMPAIGN_TARGETS:
        m = metrics.get(code)
        target = targets.get(code)
        five.append({"code": code, "name": kpi_label(code), "value": charts.fmt(value(code), _unit(code)),
                     "numerator": m.numerator if m else None, "denominator": m.denominator if m else None,
                     "target": charts.fmt(target.target, _unit(code)) if target else "",
                     "status": status_of(value(code), target)})
    all_metrics = [(kpi_label(code), charts.fmt(m.value, _unit(code)), m.numerator, m.denominator)
                   for code, m in sorted(metrics.items(), key=lambda kv: kv[0])]
    return render(request, "kpis/campaign.html", {
        "campaign": campaign, "costs": costs, "cost_total": sum(c.amount for c in costs), "chart": chart,
        "five": five, "all_metrics": all_metrics, "cost_form": CampaignCostForm(),
        "computed_at": max((m.computed_at for m in metrics.values()), default=None),
        "headline": [(kpi_label(c), charts.fmt(value(c), _unit(c))) for c in
                     ("cost", "attendees", "leads", "deals", "gross_profit", "roi", "break_even_deals",
                      "break_even_rate")],
    })



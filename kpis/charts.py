"""Plotly figures from the dense series of kpis.selectors. Each chart comes with its numbers as a
table, shown under the chart (every figure is one click away from the data that drew it).

Figures are plain JSON (no plotly.js bundle, no CDN): the page loads the app's own plotly.min.js.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import plotly.graph_objects as go
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from plotly.subplots import make_subplots

OK, WARN, BAD, INK, MUTED = "#198754", "#e0a800", "#dc3545", "#1d3a5f", "#adb5bd"
PALETTE = ["#1d3a5f", "#2f7fc1", "#4fb0c6", "#f0a202", "#d1495b", "#66a182", "#8e6bbf", "#7a7a7a"]
FONT = "PingFang SC, Noto Sans CJK SC, Microsoft YaHei, system-ui, sans-serif"


@dataclass
class Chart:
    id: str
    title: str
    figure: dict
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def fmt(value: float | None, unit: str = "count") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return f"{value:,.0f}"
    if unit == "score":
        return f"{value:.1f}"
    if unit in ("count", "rank"):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{value:,.2f}"


def _merge(into: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _layout(fig: go.Figure, height: int = 340, **extra) -> dict:
    """The figure as plain JSON with the house style. The style is merged into the dict rather than
    through plotly's validated update_layout, which took most of the dashboard's time (~50 ms a call),
    and plotly's own template is dropped (plotly.js defaults are close to it and the page is lighter)."""
    figure = json.loads(fig.to_json())
    layout = figure.setdefault("layout", {})
    layout.pop("template", None)
    _merge(layout, dict(
        height=height, margin=dict(l=50, r=20, t=30, b=40), font=dict(family=FONT, size=12),
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff", hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), colorway=PALETTE))
    _merge(layout, extra)
    layout.setdefault("xaxis", {})
    layout.setdefault("yaxis", {})
    for key, axis in layout.items():
        if key.startswith("xaxis"):
            _merge(axis, {"showgrid": False, "linecolor": "#ced4da", "automargin": True, **axis})
        elif key.startswith("yaxis"):
            _merge(axis, {"gridcolor": "#eef0f2", "zeroline": False, "automargin": True, **axis})
    return figure


def _axis_format(unit: str) -> dict:
    return {"tickformat": ".0%"} if unit == "rate" else {}


def trend(chart_id: str, name: str, unit: str, periods, values, target=None) -> Chart:
    """24 months of one KPI with its target and control line."""
    labels = [p.strftime("%Y-%m") for p in periods]
    fig = go.Figure()
    fig.add_scatter(x=labels, y=values, mode="lines+markers", name=name, line=dict(color=INK, width=2),
                    connectgaps=False)
    if target is not None:
        fig.add_scatter(x=labels, y=[target.target] * len(labels), mode="lines", name=pgettext("kpi", "Target"),
                        line=dict(color=OK, dash="dash", width=1.5))
        fig.add_scatter(x=labels, y=[target.control_line] * len(labels), mode="lines", name=_("Control line"),
                        line=dict(color=BAD, dash="dot", width=1.5))
    figure = _layout(fig, height=260, yaxis=_axis_format(unit), margin=dict(l=50, r=10, t=30, b=40))
    rows = [[label, fmt(v, unit)] for label, v in zip(labels, values)]
    return Chart(chart_id, name, figure, [_("Month"), name], rows)


def capability_curve(chart_id: str, stages: list[tuple[str, float | None]],
                     gates: list[tuple[str, float | None]]) -> Chart:
    """The funnel of the six stages beside the five gate rates, the weakest gate in red."""
    known = [(n, v) for n, v in gates if v is not None]
    weakest = min(known, key=lambda g: g[1])[0] if known else None
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.12,
                        specs=[[{"type": "funnel"}, {"type": "xy"}]],
                        subplot_titles=(_("Customers at each stage"), _("Gate rates")))
    fig.add_trace(go.Funnel(y=[n for n, _v in stages], x=[v or 0 for _n, v in stages], textinfo="value",
                            marker=dict(color=PALETTE[:6]), name=_("Customers")), row=1, col=1)
    names = [n for n, _v in gates]
    values = [v for _n, v in gates]
    fig.add_trace(go.Scatter(x=names, y=values, mode="lines+markers+text", name=_("Gate rate"),
                             text=[fmt(v, "rate") for v in values], textposition="top center",
                             line=dict(color=INK, width=2),
                             marker=dict(size=[16 if n == weakest else 9 for n in names],
                                         color=[BAD if n == weakest else INK for n in names])),
                  row=1, col=2)
    figure = _layout(fig, height=360, showlegend=False, hovermode="closest")
    figure["layout"]["yaxis"] = {**figure["layout"].get("yaxis", {}), "tickformat": ".0%", "rangemode": "tozero"}
    rows = [[n, fmt(v, "count")] for n, v in stages] + [[n + (" ★" if n == weakest else ""), fmt(v, "rate")]
                                                         for n, v in gates]
    note = _("Weakest gate: %(gate)s") % {"gate": weakest} if weakest else ""
    return Chart(chart_id, _("Capability curve"), figure, [_("Stage or gate"), _("Value")], rows, note)


def distribution(chart_id: str, panels: list[tuple[str, str, list[tuple[str, float]]]]) -> Chart:
    """Box and strip plots per consultant, one panel per KPI: the spread, not only the average."""
    panels = [p for p in panels if p[2]] or panels
    fig = make_subplots(rows=1, cols=max(1, len(panels)), subplot_titles=[p[0] for p in panels],
                        horizontal_spacing=0.07)
    rows: list[list[str]] = []
    for i, (name, unit, points) in enumerate(panels, start=1):
        people = [p for p, _v in points]
        values = [v for _p, v in points]
        fig.add_trace(go.Box(y=values, name=name, boxpoints="all", jitter=0.45, pointpos=0, text=people,
                             hovertemplate="%{text}: %{y}<extra></extra>", marker=dict(color=PALETTE[i % 8], size=7),
                             line=dict(color=INK), fillcolor="rgba(47,127,193,0.12)"), row=1, col=i)
        fig.update_yaxes(tickformat=".0%" if unit == "rate" else None, row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
        rows.extend([[name, person, fmt(v, unit)] for person, v in points])
    figure = _layout(fig, height=340, showlegend=False, hovermode="closest")
    return Chart(chart_id, _("Distribution per consultant"), figure, [_("KPI"), _("Consultant"), _("Value")], rows)


def channel_roi(chart_id: str, rows_in: list[tuple[str, float, float, float | None, int]]) -> Chart:
    """Cost, gross profit and ROI by channel: (label, cost, gross profit, roi, campaigns)."""
    labels = [r[0] for r in rows_in]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=labels, y=[r[1] for r in rows_in], name=_("Cost"), marker_color=MUTED)
    fig.add_bar(x=labels, y=[r[2] for r in rows_in], name=_("Gross profit"), marker_color=PALETTE[1])
    fig.add_trace(go.Scatter(x=labels, y=[r[3] for r in rows_in], name=_("ROI"), mode="markers+text",
                             text=[fmt(r[3], "rate") for r in rows_in], textposition="top center",
                             marker=dict(size=12, color=[OK if (r[3] or 0) >= 0 else BAD for r in rows_in])),
                  secondary_y=True)
    figure = _layout(fig, height=340, barmode="group", hovermode="x")
    figure["layout"]["yaxis2"] = {**figure["layout"].get("yaxis2", {}), "tickformat": ".0%", "showgrid": False}
    table = [[r[0], str(r[4]), fmt(r[1], "money"), fmt(r[2], "money"), fmt(r[3], "rate")] for r in rows_in]
    return Chart(chart_id, _("Campaign ROI by channel"), figure,
                 [_("Channel"), _("Campaigns"), _("Cost"), _("Gross profit"), _("ROI")], table)


def segments(chart_id: str, periods, stacks: list[tuple[str, list]], churn: tuple[str, list] | None) -> Chart:
    """Customer base segments per month (stacked), with the churn rate on the right axis."""
    labels = [p.strftime("%Y-%m") for p in periods]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for i, (name, values) in enumerate(stacks):
        fig.add_bar(x=labels, y=values, name=name, marker_color=[PALETTE[1], PALETTE[2], PALETTE[4]][i % 3])
    if churn is not None:
        fig.add_trace(go.Scatter(x=labels, y=churn[1], name=churn[0], mode="lines+markers",
                                 line=dict(color=BAD, width=2)), secondary_y=True)
    figure = _layout(fig, height=340, barmode="stack")
    figure["layout"]["yaxis2"] = {**figure["layout"].get("yaxis2", {}), "tickformat": ".0%", "showgrid": False,
                                  "rangemode": "tozero"}
    headers = [_("Month")] + [n for n, _v in stacks] + ([churn[0]] if churn else [])
    rows = []
    for i, label in enumerate(labels):
        row = [label] + [fmt(v[i], "count") for _n, v in stacks]
        if churn:
            row.append(fmt(churn[1][i], "rate"))
        rows.append(row)
    return Chart(chart_id, _("Customer base and churn"), figure, headers, rows)


def ranks(chart_id: str, periods, lines: list[tuple[str, list]], scores: list[tuple[str, list]]) -> Chart:
    """CSI and SSI rank over time (1 is best: the axis runs downwards)."""
    labels = [p.strftime("%Y-%m") for p in periods]
    fig = go.Figure()
    for i, (name, values) in enumerate(lines):
        fig.add_scatter(x=labels, y=values, name=name, mode="lines+markers", line=dict(color=PALETTE[i * 3], width=2))
    figure = _layout(fig, height=300, yaxis=dict(autorange="reversed", dtick=1, title=_("Rank (1 = best)")))
    headers = [_("Month")] + [n for n, _v in lines] + [n for n, _v in scores]
    rows = [[label] + [fmt(v[i], "rank") for _n, v in lines] + [fmt(v[i], "score") for _n, v in scores]
            for i, label in enumerate(labels)]
    return Chart(chart_id, _("CSI and SSI rank"), figure, headers, rows)


def break_even(chart_id: str, *, fixed: float, variable: float, contribution: float | None, attendance: float,
               deal_rate: float | None) -> Chart:
    """Cost (fixed + variable × attendees) and contribution (deals × contribution per deal) against
    attendance (the seed's 盈亏平衡图).

    Two contribution lines: at the success rate needed to break even at this attendance (it meets the
    cost line exactly there: "120 attendees, 64 must buy"), and, once deals are known, at the campaign's
    own deal rate, whose crossing with the cost line is the break-even attendance.
    """
    needed = math.ceil((fixed + variable * attendance) / contribution) if contribution and attendance else None
    needed_rate = needed / attendance if needed and attendance else None
    crossing = None
    if contribution and deal_rate and deal_rate * contribution > variable:
        crossing = fixed / (deal_rate * contribution - variable)
    top = max(10.0, attendance * 1.6, min(crossing * 1.15, attendance * 4) if crossing else 0)
    xs = [round(top * i / 40, 2) for i in range(41)]
    fig = go.Figure()
    fig.add_scatter(x=xs, y=[fixed + variable * x for x in xs], mode="lines", name=_("Cost"),
                    line=dict(color=BAD, width=2.5))
    if needed_rate:
        fig.add_scatter(x=xs, y=[x * needed_rate * contribution for x in xs], mode="lines",
                        name=_("Contribution at the break-even success rate (%(rate)s)") % {"rate": fmt(needed_rate, "rate")},
                        line=dict(color=OK, width=2, dash="dash"))
    if contribution and deal_rate and (needed_rate is None or abs(deal_rate - needed_rate) > 1e-9):
        fig.add_scatter(x=xs, y=[x * deal_rate * contribution for x in xs], mode="lines",
                        name=_("Contribution at its own deal rate (%(rate)s)") % {"rate": fmt(deal_rate, "rate")},
                        line=dict(color=PALETTE[1], width=2.5))
    if crossing is not None and crossing <= top:
        fig.add_scatter(x=[crossing], y=[fixed + variable * crossing], mode="markers+text", name=_("Break-even"),
                        text=[_("Break-even: %(n)s attendees") % {"n": math.ceil(crossing)}],
                        textposition="top left", marker=dict(size=14, color=INK, symbol="diamond"))
    if needed is not None:
        fig.add_scatter(x=[attendance], y=[fixed + variable * attendance], mode="markers+text", name=_("Attendance"),
                        text=[_("Attendance: %(a)s, %(n)s deals needed") % {"a": f"{attendance:.0f}", "n": needed}],
                        textposition="bottom right", marker=dict(size=12, color=WARN))
    figure = _layout(fig, height=400, hovermode="x", xaxis=dict(title=_("Attendees")),
                     yaxis=dict(title=_("CNY"), tickformat=",.0f"),
                     legend=dict(orientation="h", yanchor="top", y=-0.18, x=0), margin=dict(l=60, r=20, t=20, b=40))
    rows = [[_("Fixed cost"), fmt(fixed, "money")],
            [_("Variable cost per attendee"), fmt(variable, "money")],
            [_("Contribution per deal"), fmt(contribution, "money")],
            [_("Attendance"), fmt(attendance, "count")],
            [_("Deals needed to break even"), fmt(needed, "count")],
            [_("Success rate needed"), fmt(needed_rate, "rate")],
            [_("Deal rate used for the contribution line"), fmt(deal_rate, "rate")],
            [_("Break-even attendance"), fmt(math.ceil(crossing) if crossing else None, "count")]]
    return Chart(chart_id, _("Break-even"), figure, [_("Item"), _("Value")], rows)


def compare(chart_id: str, store_names: list[str], panels: list[tuple[str, str, list]]) -> Chart:
    """Stores side by side, one small panel per KPI."""
    fig = make_subplots(rows=1, cols=max(1, len(panels)), subplot_titles=[p[0] for p in panels],
                        horizontal_spacing=0.06)
    for i, (name, unit, values) in enumerate(panels, start=1):
        fig.add_bar(x=store_names, y=values, name=name, marker_color=PALETTE[(i - 1) % 8], row=1, col=i,
                    text=[fmt(v, unit) for v in values], textposition="outside")
        fig.update_yaxes(tickformat=".0%" if unit == "rate" else None, row=1, col=i)
    figure = _layout(fig, height=340, showlegend=False, hovermode="closest")
    headers = [_("Store")] + [p[0] for p in panels]
    rows = [[s] + [fmt(p[2][j], p[1]) for p in panels] for j, s in enumerate(store_names)]
    return Chart(chart_id, _("Stores side by side"), figure, headers, rows)

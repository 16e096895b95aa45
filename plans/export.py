"""The plan as an Excel workbook (openpyxl), for the OEM's regional meeting: one sheet per section."""
from __future__ import annotations

from io import BytesIO

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from plans.models import MarketingPlan

BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")
NUMBER_FORMATS = {"rate": "0.0%", "money": "#,##0.00"}
STATUS_FILL = {"ok": "C6EFCE", "warn": "FFEB9C", "alert": "FFC7CE"}


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list], widths: list[int]):
    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for cell in ws[1]:
        cell.font, cell.fill = BOLD, HEAD_FILL
    for row in rows:
        ws.append(row)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    return ws


def plan_workbook(plan: MarketingPlan, context: dict) -> bytes:
    """`context` is the plan page's (parts, forecast, evaluation, goal and campaign rows, milestones)."""
    wb = Workbook()
    wb.remove(wb.active)
    forecast = context["forecast"]
    summary = [
        [_("Dealership"), str(plan.dealership)],
        [_("Period"), plan.period_label],
        [_("Title"), plan.title],
        [_("Status"), plan.get_status_display()],
        [_("Budget"), float(plan.budget)],
        [_("Campaign budgets"), float(forecast.total)],
        [_("Over (+) / under (−) budget"), float(forecast.difference)],
        *[[str(label), text] for label, text in context["parts"]],
    ]
    _sheet(wb, _("Plan"), [_("Part"), _("Content")], summary, [24, 100])

    goal_rows = context["goal_rows"]
    months = [f"{p:%Y-%m}" for p in plan.months]
    ws = _sheet(wb, _("Goals"), [_("KPI"), _("Target"), _("Control line"), _("Direction"), _("Measures"),
                                 *months, _("Result")],
                [[g.label, g.goal.target, g.goal.control_line, g.goal.get_direction_display(), g.goal.measure,
                  *[v for _p, v, _s in g.months], g.status] for g in goal_rows],
                [28, 10, 12, 16, 40, *[10] * len(months), 10])
    for r, g in enumerate(goal_rows, start=2):
        number_format = NUMBER_FORMATS.get(g.unit)
        for c in [2, 3, *range(6, 6 + len(months))]:
            if number_format:
                ws.cell(row=r, column=c).number_format = number_format
        for c, (_p, _v, status) in enumerate(g.months, start=6):
            if status in STATUS_FILL:
                ws.cell(row=r, column=c).fill = PatternFill("solid", fgColor=STATUS_FILL[status])

    ws = _sheet(wb, _("Campaigns"), [_("Campaign"), _("Channel"), _("Starts on"), _("Ends on"), _("Budget"),
                                _("Expected ROI"), _("ROI")],
           [[c.link.campaign.name, c.link.campaign.get_channel_display(), c.link.campaign.starts_on,
             c.link.campaign.ends_on, float(c.link.campaign.budget), c.expected, c.roi]
            for c in context["campaign_rows"]]
           + [[_("Total"), "", "", "", float(forecast.total), "", ""]]
           + [[str(channel), _("channel total"), "", "", float(amount), "", ""]
              for channel, amount in forecast.by_channel],
           [30, 16, 12, 12, 14, 12, 10])
    for row in ws.iter_rows(min_row=2):
        row[4].number_format = NUMBER_FORMATS["money"]
        row[5].number_format = row[6].number_format = NUMBER_FORMATS["rate"]

    _sheet(wb, _("Milestones"), [_("Milestone"), _("Due on"), _("Owner"), _("Done on")],
           [[m.title, m.due_on, m.owner.display_name if m.owner else "", m.done_on] for m in context["milestones"]],
           [40, 12, 20, 12])

    verdict = {True: _("passed"), False: _("not passed"), None: _("pending")}
    _sheet(wb, _("Evaluation"), ["#", _("Criterion"), _("Result"), _("Reason")],
           [[p.number, p.title, verdict[p.passed], p.reason] for p in context["evaluation"]],
           [4, 32, 12, 90])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()

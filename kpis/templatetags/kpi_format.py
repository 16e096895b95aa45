"""`{{ value|kpi:"rate" }}`: a KPI value as the dashboards show it (rates as percentages, — for none)."""
from django import template

from kpis.charts import fmt

register = template.Library()


@register.filter
def kpi(value, unit: str = "count") -> str:
    return fmt(value, unit or "count")

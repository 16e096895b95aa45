from django.contrib import admin

from kpis.models import KpiAlert, KpiTarget, MarketData, SatisfactionScore


@admin.register(KpiTarget)
class KpiTargetAdmin(admin.ModelAdmin):
    list_display = ["code", "dealership", "target", "control_line", "direction"]


@admin.register(KpiAlert)
class KpiAlertAdmin(admin.ModelAdmin):
    list_display = ["code", "dealership", "period", "value", "status", "opened_at", "closed_at"]
    list_filter = ["dealership", "status"]


@admin.register(MarketData)
class MarketDataAdmin(admin.ModelAdmin):
    list_display = ["dealership", "period", "city_brand_sales", "city_brand_stores", "market_parc"]


@admin.register(SatisfactionScore)
class SatisfactionScoreAdmin(admin.ModelAdmin):
    list_display = ["survey", "period", "dealer_code", "dealer_name", "score"]
    list_filter = ["survey", "period"]

from django.contrib import admin

from campaigns.models import Campaign, CampaignCost, TrafficPlan


class CampaignCostInline(admin.TabularInline):
    model = CampaignCost
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "dealership", "channel", "starts_on", "ends_on", "budget"]
    list_filter = ["dealership", "channel"]
    search_fields = ["name", "external_id"]
    inlines = [CampaignCostInline]


@admin.register(TrafficPlan)
class TrafficPlanAdmin(admin.ModelAdmin):
    list_display = ["dealership", "period", "planned_traffic"]
    list_filter = ["dealership"]

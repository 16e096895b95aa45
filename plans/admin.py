"""Admin views of plans, for superusers fixing data; managers work on the plan pages, which keep the rules."""
from django.contrib import admin

from plans.models import MarketingPlan, PlanCampaign, PlanGoal, PlanMilestone


class PlanGoalInline(admin.TabularInline):
    model = PlanGoal
    extra = 0


class PlanCampaignInline(admin.TabularInline):
    model = PlanCampaign
    extra = 0
    raw_id_fields = ["campaign"]


class PlanMilestoneInline(admin.TabularInline):
    model = PlanMilestone
    extra = 0
    raw_id_fields = ["owner"]


@admin.register(MarketingPlan)
class MarketingPlanAdmin(admin.ModelAdmin):
    list_display = ["dealership", "period", "period_kind", "title", "budget", "status"]
    list_filter = ["status", "period_kind", "dealership"]
    search_fields = ["title", "external_id"]
    raw_id_fields = ["created_by", "approved_by"]
    inlines = [PlanGoalInline, PlanCampaignInline, PlanMilestoneInline]

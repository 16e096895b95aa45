"""The REST API: /api/v1/... (spec/api.md), the OpenAPI schema and its docs (Swagger UI served locally)."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from aftersales.api import CallbackViewSet, ServiceVisitViewSet
from campaigns.api import CampaignCostViewSet, CampaignViewSet, TrafficPlanViewSet
from customers.api import CustomerViewSet
from dealership.api.views import DealershipViewSet, StaffViewSet, token_view
from kpis.api import (CampaignMetricsView, KpiAlertViewSet, KpiTargetViewSet, KpiViewSet, MarketDataViewSet,
                      RecomputeStatusView, RecomputeView, SatisfactionScoreViewSet)
from plans.api import PlanCampaignViewSet, PlanGoalViewSet, PlanMilestoneViewSet, PlanViewSet
from sales.api import OrderViewSet, TestDriveViewSet, VisitViewSet

router = DefaultRouter()
router.register("dealerships", DealershipViewSet, basename="dealership")
router.register("staff", StaffViewSet, basename="staff")
router.register("customers", CustomerViewSet, basename="customer")
router.register("visits", VisitViewSet, basename="visit")
router.register("test-drives", TestDriveViewSet, basename="test-drive")
router.register("orders", OrderViewSet, basename="order")
router.register("service-visits", ServiceVisitViewSet, basename="service-visit")
router.register("callbacks", CallbackViewSet, basename="callback")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("campaign-costs", CampaignCostViewSet, basename="campaign-cost")
router.register("traffic-plans", TrafficPlanViewSet, basename="traffic-plan")
router.register("satisfaction-scores", SatisfactionScoreViewSet, basename="satisfaction-score")
router.register("market-data", MarketDataViewSet, basename="market-data")
router.register("kpi-targets", KpiTargetViewSet, basename="kpi-target")
router.register("kpi-alerts", KpiAlertViewSet, basename="kpi-alert")
router.register("kpis", KpiViewSet, basename="kpi")
router.register("marketing-plans", PlanViewSet, basename="marketing-plan")
router.register("marketing-plan-goals", PlanGoalViewSet, basename="marketing-plan-goal")
router.register("marketing-plan-campaigns", PlanCampaignViewSet, basename="marketing-plan-campaign")
router.register("marketing-plan-milestones", PlanMilestoneViewSet, basename="marketing-plan-milestone")

urlpatterns = [
    path("v1/auth/token/", token_view(), name="api-token"),
    # Before the router: "recompute" would otherwise not be told apart from a KPI route.
    path("v1/kpis/recompute/", RecomputeView.as_view(), name="kpi-recompute"),
    path("v1/kpis/recompute/<str:task_id>/", RecomputeStatusView.as_view(), name="kpi-recompute-status"),
    path("v1/campaigns/<int:pk>/metrics/", CampaignMetricsView.as_view(), name="campaign-metrics"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

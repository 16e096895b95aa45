from django.urls import path

from kpis import views

app_name = "kpis"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("all.csv", views.dashboard_csv, name="dashboard_csv"),
    path("compare/", views.compare_view, name="compare"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/close/", views.alert_close, name="alert_close"),
    path("targets/", views.targets, name="targets"),
    path("recompute/", views.recompute, name="recompute"),
    path("recompute/<str:task_id>/", views.recompute_status, name="recompute_status"),
    path("channels/", views.channels, name="channels"),
    path("customer-base/", views.customer_base, name="customer_base"),
    path("customer-base/lapsed/", views.lapsed, name="lapsed"),
    path("campaigns/<int:pk>/", views.campaign_report, name="campaign"),
]

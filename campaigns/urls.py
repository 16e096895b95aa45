from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/costs/", views.campaign_cost_add, name="cost_add"),
    path("traffic-plans/", views.traffic_plans, name="traffic_plans"),
]

from django.urls import path

from plans import views

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="list"),
    path("new/", views.plan_create, name="create"),
    path("<int:pk>/", views.plan_detail, name="detail"),
    path("<int:pk>/edit/", views.plan_edit, name="edit"),
    path("<int:pk>/print/", views.plan_print, name="print"),
    path("<int:pk>/export.xlsx", views.plan_export, name="export"),
    path("<int:pk>/approve/", views.plan_approve, name="approve"),
    path("<int:pk>/close/", views.plan_close, name="close"),
    path("<int:pk>/capability/", views.capability_refresh, name="capability"),
    path("<int:pk>/goals/add/", views.goal_add, name="goal_add"),
    path("<int:pk>/goals/<int:goal_pk>/delete/", views.goal_delete, name="goal_delete"),
    path("<int:pk>/campaigns/link/", views.campaign_link, name="campaign_link"),
    path("<int:pk>/campaigns/new/", views.campaign_new, name="campaign_new"),
    path("<int:pk>/campaigns/<int:link_pk>/unlink/", views.campaign_unlink, name="campaign_unlink"),
    path("<int:pk>/milestones/add/", views.milestone_add, name="milestone_add"),
    path("<int:pk>/milestones/<int:milestone_pk>/done/", views.milestone_done, name="milestone_done"),
    path("<int:pk>/milestones/<int:milestone_pk>/delete/", views.milestone_delete, name="milestone_delete"),
]

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_new, name="new"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/lost/", views.customer_lost, name="lost"),
    path("<int:pk>/reactivate/", views.customer_reactivate_view, name="reactivate"),
    path("<int:pk>/stage/", views.customer_stage, name="stage"),
]

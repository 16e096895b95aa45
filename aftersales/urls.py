from django.urls import path

from aftersales import views

app_name = "aftersales"

urlpatterns = [
    path("today/", views.today, name="today"),
    path("service-visits/", views.service_visit_list, name="service_visits"),
    path("service-visits/new/", views.service_visit_new, name="service_visit_new"),
    path("service-visits/<int:pk>/close/", views.service_visit_close_view, name="service_visit_close"),
    path("callbacks/new/", views.callback_new, name="callback_new"),
]

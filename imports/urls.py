from django.urls import path

from imports import views

app_name = "imports"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("templates/<str:kind>.<str:fmt>", views.template_download, name="template"),
    path("<uuid:pk>/", views.job_detail, name="job"),
    path("<uuid:pk>/status/", views.job_status, name="status"),
    path("<uuid:pk>/bad-rows.csv", views.bad_rows_download, name="bad_rows"),
    path("<uuid:pk>/run/", views.job_rerun, name="rerun"),
]

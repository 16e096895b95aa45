from django.urls import path

from sales import views

app_name = "sales"

urlpatterns = [
    path("visits/new/", views.visit_new, name="visit_new"),
    path("customers/<int:customer_pk>/test-drive/", views.test_drive_new, name="test_drive_new"),
    path("customers/<int:customer_pk>/order/", views.order_new, name="order_new"),
    path("orders/<int:pk>/deliver/", views.order_deliver_view, name="order_deliver"),
]

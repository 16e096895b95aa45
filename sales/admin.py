from django.contrib import admin

from sales.models import Order, TestDrive, Visit


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "kind", "dealership", "customer", "consultant", "invited"]
    list_filter = ["dealership", "kind"]
    raw_id_fields = ["customer", "campaign", "consultant"]


@admin.register(TestDrive)
class TestDriveAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "model", "customer", "consultant"]
    raw_id_fields = ["customer", "consultant"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["ordered_at", "delivered_at", "model", "customer", "consultant", "price"]
    list_filter = ["dealership"]
    raw_id_fields = ["customer", "consultant", "campaign"]

from django.contrib import admin

from aftersales.models import Callback, ServiceVisit


@admin.register(ServiceVisit)
class ServiceVisitAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "closed_at", "kind", "customer", "advisor", "revenue", "in_warranty"]
    list_filter = ["dealership", "kind", "in_warranty"]
    raw_id_fields = ["customer", "advisor"]


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    list_display = ["completed_at", "order", "service_visit", "staff", "reached"]
    raw_id_fields = ["order", "service_visit", "staff"]

from django.contrib import admin

from aftersales.models import Callback, ServiceVisit
from aftersales.services import subjects_first_callback_refresh
from sales.models import Order


@admin.register(ServiceVisit)
class ServiceVisitAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "closed_at", "kind", "customer", "advisor", "revenue", "in_warranty"]
    list_filter = ["dealership", "kind", "in_warranty"]
    raw_id_fields = ["customer", "advisor"]


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    """Edits here bypass aftersales.services: the subjects' first reached callback is kept as they keep it."""

    list_display = ["completed_at", "order", "service_visit", "staff", "reached"]
    raw_id_fields = ["order", "service_visit", "staff"]

    def save_model(self, request, obj, form, change):
        left = Callback.objects.filter(pk=obj.pk).values_list("order_id", "service_visit_id").first() or (None, None)
        super().save_model(request, obj, form, change)
        _refresh({left[0], obj.order_id}, {left[1], obj.service_visit_id})

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _refresh({obj.order_id}, {obj.service_visit_id})

    def delete_queryset(self, request, queryset):
        subjects = list(queryset.values_list("order_id", "service_visit_id"))
        super().delete_queryset(request, queryset)
        _refresh({o for o, _v in subjects}, {v for _o, v in subjects})


def _refresh(orders: set, visits: set) -> None:
    subjects_first_callback_refresh(orders=Order.objects.filter(pk__in=orders - {None}),
                                    service_visits=ServiceVisit.objects.filter(pk__in=visits - {None}))

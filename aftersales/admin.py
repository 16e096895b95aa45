from django.contrib import admin

from aftersales.models import Callback, ServiceVisit
from aftersales.services import customers_service_dates_refresh, subjects_first_callback_refresh
from customers.models import Customer
from dealership.services import kpi_months_mark_stale
from sales.models import Order


@admin.register(ServiceVisit)
class ServiceVisitAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "closed_at", "kind", "customer", "advisor", "revenue", "in_warranty"]
    list_filter = ["dealership", "kind", "in_warranty"]
    raw_id_fields = ["customer", "advisor"]

    # Edits here bypass aftersales.services: the customers' kept service dates, the visits' neighbours and
    # the KPI months are kept as they keep them, for the customer and instants before the edit and after.
    def save_model(self, request, obj, form, change):
        before = list(ServiceVisit.objects.filter(pk=obj.pk))
        super().save_model(request, obj, form, change)
        _kept([obj, *before])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _kept([obj])

    def delete_queryset(self, request, queryset):
        visits = list(queryset)
        super().delete_queryset(request, queryset)
        _kept(visits)


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


def _kept(visits: list[ServiceVisit]) -> None:
    customers_service_dates_refresh(Customer.objects.filter(pk__in={v.customer_id for v in visits}))
    for v in visits:
        kpi_months_mark_stale(dealership=v.dealership, instants=[v.opened_at, v.closed_at])

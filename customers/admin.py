from django.contrib import admin

from customers.models import Customer, StageChange


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "from_stage", "to_stage", "at", "by", "reason", "recorded_at"]

    def has_add_permission(self, request, obj=None) -> bool:  # moves go through customers.services only
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "dealership", "stage", "is_lost", "consultant", "created_at"]
    list_filter = ["dealership", "stage", "is_lost", "source"]
    search_fields = ["name", "phone", "external_id"]
    readonly_fields = ["stage", "is_lost", "lost_at"]
    raw_id_fields = ["campaign", "consultant", "referred_by"]
    inlines = [StageChangeInline]

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from dealership.audit_views import changes_text, masked_changes, masked_record
from dealership.models import AuditEntry, DealerGroup, Dealership, User


@admin.register(DealerGroup)
class DealerGroupAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Dealership)
class DealershipAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city", "brand", "timezone", "group"]
    search_fields = ["code", "name", "city"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "name", "role", "dealership", "is_active"]
    list_filter = ["role", "dealership"]
    fieldsets = BaseUserAdmin.fieldsets + (("Store", {"fields": ("name", "role", "dealership", "group", "language")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("Store", {"fields": ("name", "role", "dealership", "group")}),)


def _superusers_only(request) -> bool:
    # Staff work in the application's pages, which apply the store scoping; the admin bypasses it.
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = _superusers_only


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only, and phone numbers masked as on the managers' page (dealership.audit_views)."""

    list_display = ["at", "actor_name", "action", "model", "record", "dealership_id"]
    list_filter = ["action", "model"]
    search_fields = ["object_repr", "actor_name", "object_id"]
    fields = ["at", "actor_id", "actor_name", "address", "dealership_id", "action", "model", "object_id", "record",
              "changed"]
    readonly_fields = fields

    @admin.display(description=_("record"))
    def record(self, obj: AuditEntry) -> str:
        return masked_record(obj)

    @admin.display(description=_("changes"))
    def changed(self, obj: AuditEntry) -> str:
        return changes_text(masked_changes(obj))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

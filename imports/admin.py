from django.contrib import admin

from imports.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "file_name", "dealership", "created_by", "dry_run", "state")
    list_filter = ("kind", "state", "dry_run")
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # jobs are made by uploads, never by hand

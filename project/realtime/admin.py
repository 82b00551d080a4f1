from django.contrib import admin

from .models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event log is written only by `publish()`; admins read it."""

    list_display = ["id", "group", "type", "tenant_id", "created_at"]
    list_filter = ["type"]
    search_fields = ["group"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

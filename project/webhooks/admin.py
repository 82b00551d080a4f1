from django.contrib import admin

from .models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """Read-only: endpoints are written by their tenant's owners (pages, API) and the worker."""

    list_display = ("url", "tenant", "status", "cursor", "attempts", "failing_since", "last_delivery_at", "created_at")
    list_filter = ("status",)
    search_fields = ("url", "tenant__name", "=id")
    exclude = ("secret", "previous_secret", "lease_token")
    readonly_fields = [f.name for f in Endpoint._meta.fields if f.name not in ("secret", "previous_secret", "lease_token")]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "endpoint", "kind", "event_type", "webhook_id", "status", "response_status", "duration_ms")
    list_filter = ("status", "kind")
    search_fields = ("=webhook_id", "endpoint__url", "=endpoint__id")
    list_select_related = ("endpoint",)
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

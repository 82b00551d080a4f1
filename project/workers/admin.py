from django.contrib import admin

from .models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "pid", "state", "started_at", "last_seen"]
    list_filter = ["name", "host"]

    # Rows are written only by the workers themselves.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

from django.contrib import admin, messages

from . import services
from .models import QueueMessage


@admin.register(QueueMessage)
class QueueMessageAdmin(admin.ModelAdmin):
    """Read-only: every change goes through queue_app.services, so events follow. Dead letters
    are the `failed` filter; the retry action puts them back in the queue."""

    list_display = ["id", "status", "message_type", "username", "entity", "priority", "attempts",
                    "claimed_by", "short_text", "last_error", "tenant"]
    list_filter = ["status", "message_type", "entity"]
    search_fields = ["id", "text", "username", "entity", "claimed_by", "last_error"]
    readonly_fields = [f.name for f in QueueMessage._meta.fields]
    list_select_related = ["tenant"]
    ordering = ["-timestamp"]
    actions = ["retry"]

    @admin.display(description="text")
    def short_text(self, message):
        return message.text[:80]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the selected dead letters (failed messages)")
    def retry(self, request, queryset):
        outcomes = services.retry_many(list(queryset.values_list("pk", flat=True)), request.user)
        skipped = sum(1 for outcome in outcomes if outcome.error)
        retried = len(outcomes) - skipped
        self.message_user(request, f"Retried {retried} message(s); skipped {skipped} that were not failed.",
                          messages.SUCCESS if retried else messages.WARNING)

from django.contrib import admin

from .models import HistoryEvent, MediaFile, Message, Participant, TemplateParticipant, Workflow, WorkflowTemplate


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ["user", "role", "joined_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # through the workflow's page or API, so history and events are written


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["id", "sender", "message_type", "content", "created_at"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    """Read-mostly: changes go through workflows.services so that history and events follow."""

    list_display = ["title", "id", "tenant", "initiator", "status", "created_at", "deleted_at"]
    list_filter = ["status", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "id", "initiator__email", "participants__user__email"]
    readonly_fields = [f.name for f in Workflow._meta.fields]
    inlines = [ParticipantInline, MessageInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WorkflowDeletedFilter(admin.SimpleListFilter):
    title = "workflow"
    parameter_name = "workflow"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("deleted", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(workflow__deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(workflow__deleted_at__isnull=False)
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Every workflow's messages in one searchable list, read-only: posting, editing and
    deleting go through workflows.services so that history and live events follow."""

    list_display = ["id", "short_content", "workflow", "tenant", "sender", "message_type", "created_at"]
    list_display_links = ["id", "short_content"]
    list_filter = ["message_type", WorkflowDeletedFilter]
    search_fields = ["content", "sender__email", "sender__display_name", "workflow__title", "=workflow__id"]
    list_select_related = ["workflow__tenant", "sender"]
    readonly_fields = [f.name for f in Message._meta.fields]
    date_hierarchy = "created_at"
    ordering = ["-id"]
    # A COUNT(*) over every message on each page view is what makes big changelists slow.
    show_full_result_count = False

    @admin.display(description="Message")
    def short_content(self, message):
        return message.content if len(message.content) <= 80 else message.content[:79] + "…"

    @admin.display(description="Tenant", ordering="workflow__tenant__name")
    def tenant(self, message):
        return message.workflow.tenant

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HistoryEvent)
class HistoryEventAdmin(admin.ModelAdmin):
    list_display = ["workflow", "event_type", "performed_by", "event_timestamp", "status"]
    list_filter = ["event_type"]
    search_fields = ["workflow__id", "title", "performed_by__email"]
    readonly_fields = [f.name for f in HistoryEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MediaFile)
class MediaFileAdmin(admin.ModelAdmin):
    list_display = ["original_name", "tenant", "uploader", "content_type", "size", "created_at"]
    search_fields = ["original_name", "uploader__email"]
    readonly_fields = [f.name for f in MediaFile._meta.fields]

    def has_add_permission(self, request):
        return False


class TemplateParticipantInline(admin.TabularInline):
    model = TemplateParticipant
    extra = 0
    fields = ["user", "role"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # through the tenant's templates page or API, which check membership


@admin.register(WorkflowTemplate)
class WorkflowTemplateAdmin(admin.ModelAdmin):
    """Read and delete: writes go through workflows.templates_service (names, patterns, members)."""

    list_display = ["name", "tenant", "title_pattern", "created_by", "updated_at"]
    search_fields = ["name", "id", "tenant__name", "title_pattern"]
    readonly_fields = [f.name for f in WorkflowTemplate._meta.fields]
    inlines = [TemplateParticipantInline]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant", "created_by")

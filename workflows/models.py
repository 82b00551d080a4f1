import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from project.accounts.models import Tenant
from project.ids import new_public_id
from project.sql import LoadedWithoutInit


class WorkflowQuerySet(models.QuerySet):
    def visible(self):
        """Soft-deleted workflows are kept for the audit trail but hidden everywhere else."""
        return self.filter(deleted_at__isnull=True)


class Workflow(LoadedWithoutInit, models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    id = models.CharField(primary_key=True, max_length=16, default=new_public_id, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="workflows")
    initiator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: The newest message (its preview in lists) and when the workflow last changed, its sort
    #: key in lists: kept on the workflow so a list needs no aggregate over the messages.
    last_message = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_activity_at = models.DateTimeField(default=timezone.now)

    objects = WorkflowQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "-created_at"], name="workflow_tenant_status")]

    def __str__(self):
        return self.title

    @property
    def group(self) -> str:
        return f"workflow.{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.ACTIVE and self.deleted_at is None


class Participant(LoadedWithoutInit, models.Model):
    class Role(models.TextChoices):
        INITIATOR = "initiator"
        EDITOR = "editor"
        VIEWER = "viewer"

    WRITER_ROLES = (Role.INITIATOR, Role.EDITOR)

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)
    joined_at = models.DateTimeField(default=timezone.now)
    #: The participant's read cursor: the id of the last message they have read (0: none).
    #: Unread counts are the messages after it (Zulip's and Slack's model): posting writes
    #: nothing per participant.
    last_read_message_id = models.PositiveBigIntegerField(default=0)
    #: A muted workflow counts no unread messages in the total; mentions still notify.
    muted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "user"], name="participant_unique_user")]
        ordering = ["joined_at", "id"]

    def __str__(self):
        return f"{self.user} ({self.role}) in {self.workflow_id}"


def media_upload_path(instance, filename):
    # Never the uploader's name: it is untrusted (path traversal, collisions) and kept apart.
    return f"media/{instance.tenant_id}/{new_public_id(20)}"


class MediaFile(LoadedWithoutInit, models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="media_files")
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to=media_upload_path, max_length=255)
    #: A small WebP of an image (workflows/thumbnails.py); empty for other files.
    thumbnail = models.FileField(upload_to=media_upload_path, max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.original_name


def new_share_token() -> str:
    return secrets.token_urlsafe(24)


def message_pk(raw) -> int | None:
    """A message id a client sent (digits, as ids are strings on the wire), or None when it can
    name no message: not digits, or more than a bigint column holds (the query would fail)."""
    raw = "" if raw is None else str(raw)
    return int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 19 else None


class Message(LoadedWithoutInit, models.Model):
    """A message's id is its cursor: clients ask for everything after the last one they saw."""

    class Type(models.TextChoices):
        TEXT = "text"
        SHARE_LINK = "share_link"
        SYSTEM = "system"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_type = models.CharField(max_length=16, choices=Type.choices, default=Type.TEXT)
    content = models.TextField()
    media_file = models.ForeignKey(MediaFile, null=True, blank=True, on_delete=models.PROTECT, related_name="messages")
    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    #: Set when its author edits it; a deleted message keeps its place (and id) with no content.
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["workflow", "id"], name="message_workflow_cursor")]

    def __str__(self):
        return f"#{self.pk} in {self.workflow_id}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("History events are never updated.")

    def delete(self):
        raise AppendOnlyError("History events are never deleted.")


class AppendOnlyError(Exception):
    pass


class HistoryEvent(models.Model):
    """The audit trail (the original WorkflowHistory table): one row per event with a snapshot
    of the workflow as it was after the event. Append-only: the model, its queryset and a
    database trigger all refuse updates and deletes."""

    class Type(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        PARTICIPANT_ADDED = "participant_added"
        PARTICIPANT_REMOVED = "participant_removed"
        COMPLETED = "completed"
        REOPENED = "reopened"
        CANCELLED = "cancelled"
        DELETED = "deleted"
        MESSAGE_EDITED = "message_edited"
        MESSAGE_DELETED = "message_deleted"

    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="history")
    event_type = models.CharField(max_length=32, choices=Type.choices)
    event_timestamp = models.DateTimeField(default=timezone.now)
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    # The snapshot.
    tenant_id_snapshot = models.CharField(max_length=16)
    initiator_snapshot = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True)
    deleted_at = models.DateTimeField(null=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.event_type} {self.workflow_id} at {self.event_timestamp:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("History events are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("History events are never deleted.")


#: A template's title pattern knows one placeholder, `{date}`: the day the workflow is started
#: (YYYY-MM-DD, settings.TIME_ZONE). Any other brace is refused, so that a pattern never means
#: something else later; the pattern must not be blank.
TITLE_PATTERN_REGEX = r"^\s*(?:[^{}\s\x00]|\{date\})(?:[^{}\x00]|\{date\})*$"
TITLE_PATTERN_HELP = "“{date}” becomes the day the workflow starts (2026-12-01); no other braces."
validate_title_pattern = RegexValidator(TITLE_PATTERN_REGEX, f"Not a title pattern: {TITLE_PATTERN_HELP}")


class WorkflowTemplate(models.Model):
    """What a tenant's owners and admins set up once for the workflows they start often: the
    title, who takes part and the first message (a checklist is a message of lines).
    Written by workflows.templates_service only."""

    id = models.CharField(primary_key=True, max_length=16, default=new_public_id, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="workflow_templates")
    name = models.CharField(max_length=120)
    title_pattern = models.CharField(max_length=200, validators=[validate_title_pattern], help_text=TITLE_PATTERN_HELP)
    description = models.TextField(blank=True)
    first_message = models.TextField(blank=True, help_text="Posted by whoever starts the workflow.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="workflow_template_unique_name")]

    def __str__(self):
        return self.name


class TemplateParticipant(models.Model):
    """A default participant of a template. Someone who has since left the tenant is skipped
    when a workflow is started (workflows.templates_service.start_workflow)."""

    ROLES = [(Participant.Role.EDITOR, Participant.Role.EDITOR.label), (Participant.Role.VIEWER, Participant.Role.VIEWER.label)]

    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=ROLES, default=Participant.Role.EDITOR)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "user"], name="template_participant_unique_user")]
        ordering = ["id"]

    def __str__(self):
        return f"{self.user} ({self.role}) in template {self.template_id}"

"""Shapes of the workflow API: validation and representation only. Every write goes through
workflows.services.

The output serializers here are each resource's one shape: REST responses, the `data` of
socket frames and the event log all use them (services publish `MessageSerializer(m).data`)."""

import json

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from project.accounts.access import tenants_for
from project.serializers import QuerySerializer, StrictSerializer, iso_utc

from .models import (
    TITLE_PATTERN_HELP,
    TITLE_PATTERN_REGEX,
    HistoryEvent,
    Message,
    Participant,
    TemplateParticipant,
    Workflow,
    WorkflowTemplate,
)

#: The serialized `data` of a custom event; it travels to every socket of the workflow.
MAX_CUSTOM_EVENT_BYTES = 16 * 1024


class ParticipantSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Participant
        fields = ["email", "display_name", "role", "joined_at"]
        read_only_fields = fields


class NewParticipantSerializer(StrictSerializer):
    email = serializers.EmailField()
    #: A workflow has one initiator, who creates it: the others are editors or viewers.
    role = serializers.ChoiceField(
        choices=[(role, label) for role, label in Participant.Role.choices if role != Participant.Role.INITIATOR],
        default=Participant.Role.EDITOR,
        error_messages={"invalid_choice": "A participant is an editor or a viewer (a workflow has one initiator)."},
    )


class WorkflowSerializer(serializers.ModelSerializer):
    tenant_id = serializers.CharField(read_only=True)
    initiator = serializers.EmailField(source="initiator.email", read_only=True)
    completed_by = serializers.EmailField(source="completed_by.email", read_only=True, allow_null=True)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "tenant_id",
            "title",
            "status",
            "initiator",
            "created_at",
            "updated_at",
            "completed_at",
            "completed_by",
        ]
        read_only_fields = fields


class CapabilitiesSerializer(serializers.Serializer):
    can_write = serializers.BooleanField(help_text="Post messages, share files, add participants, rename.")
    can_manage = serializers.BooleanField(help_text="Complete, reopen, cancel, delete, remove participants.")


# Needs the caller's WorkflowAccess as `access` in its context.
class WorkflowDetailSerializer(WorkflowSerializer):
    participants = ParticipantSerializer(many=True, read_only=True)
    capabilities = serializers.SerializerMethodField()

    class Meta(WorkflowSerializer.Meta):
        fields = [*WorkflowSerializer.Meta.fields, "participants", "capabilities"]
        read_only_fields = fields

    @extend_schema_field(CapabilitiesSerializer)
    def get_capabilities(self, workflow) -> dict:
        access = self.context["access"]
        return {"can_write": access.can_write, "can_manage": access.can_manage}


class WorkflowCreateSerializer(StrictSerializer):
    tenant_id = serializers.CharField(max_length=16)
    title = serializers.CharField(max_length=200)
    participants = NewParticipantSerializer(many=True, required=False, default=list)


class WorkflowUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=Workflow.Status.choices, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send the title, the status or both.")
        return attrs


# Needs the `request` in its context.
class WorkflowFilterSerializer(QuerySerializer):
    status = serializers.ChoiceField(choices=Workflow.Status.choices, required=False)
    tenant_id = serializers.CharField(max_length=16, required=False, help_text="A tenant id of yours.")

    def validate_tenant_id(self, tenant_id):
        if not tenants_for(self.context["request"].user).filter(pk=tenant_id).exists():
            raise serializers.ValidationError("You are not a member of this tenant.")
        return tenant_id


class WorkflowSnapshotSerializer(serializers.ModelSerializer):
    tenant_id = serializers.CharField(source="tenant_id_snapshot", read_only=True)
    initiator = serializers.EmailField(source="initiator_snapshot.email", read_only=True)

    class Meta:
        model = HistoryEvent
        fields = ["tenant_id", "initiator", "title", "status", "created_at", "updated_at", "completed_at", "deleted_at"]
        read_only_fields = fields


class HistoryEventSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    performed_by = serializers.EmailField(source="performed_by.email", read_only=True)
    snapshot = WorkflowSnapshotSerializer(source="*", read_only=True, help_text="The workflow after the event.")

    class Meta:
        model = HistoryEvent
        fields = ["id", "event_type", "event_timestamp", "performed_by", "details", "snapshot"]
        read_only_fields = fields


class SharedFileSerializer(serializers.Serializer):
    """What a thread shows of a shared file without fetching it (documents `_shared_file`)."""

    name = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    content_type = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True, help_text="A WebP preview of an image, else null.")


def _shared_file(message) -> dict | None:
    if not (message.share_token and message.media_file_id):
        return None
    media = message.media_file
    return {
        "name": media.original_name,
        "size": media.size,
        "content_type": media.content_type,
        "thumbnail_url": reverse("share_thumbnail", args=[message.share_token]) if media.thumbnail else None,
    }


class MessageSerializer(serializers.ModelSerializer):
    """A message, as REST returns it and sockets receive it in `message.created`."""

    id = serializers.CharField(read_only=True)
    workflow_id = serializers.CharField(read_only=True)
    sender = serializers.EmailField(source="sender.email", read_only=True, allow_null=True)
    sender_name = serializers.CharField(source="sender.get_full_name", read_only=True, allow_null=True)
    share_url = serializers.CharField(
        read_only=True, allow_null=True, help_text="The path that serves a shared file (`/share/<token>`), else null."
    )
    file = SharedFileSerializer(read_only=True, allow_null=True, help_text="A share_link message's file, else null.")

    class Meta:
        model = Message
        fields = [
            "id",
            "workflow_id",
            "sender",
            "sender_name",
            "message_type",
            "content",
            "share_token",
            "share_url",
            "created_at",
            "edited_at",
            "deleted_at",
            "file",
        ]
        read_only_fields = fields

    def to_representation(self, message):
        """Built directly rather than field by field: that cost a third of a page of 50
        messages (bench/http_reads). `share_url` is a path, not an absolute link, so the same
        shape serves REST, sockets and the event log, which have no request to build a host from."""
        sender = message.sender
        return {
            "id": str(message.pk),
            "workflow_id": message.workflow_id,
            "sender": sender.email if sender else None,
            "sender_name": sender.get_full_name() if sender else None,
            "message_type": message.message_type,
            "content": message.content,
            "share_token": message.share_token,
            "share_url": reverse("share", args=[message.share_token]) if message.share_token else None,
            "created_at": iso_utc(message.created_at),
            "edited_at": iso_utc(message.edited_at),
            "deleted_at": iso_utc(message.deleted_at),
            "file": _shared_file(message),
        }


class NewWorkflowMessageSerializer(StrictSerializer):
    # The length limit is services.post_message's (WORKFLOW_MESSAGE_MAX_LENGTH).
    content = serializers.CharField(
        help_text="Stripped; at most WORKFLOW_MESSAGE_MAX_LENGTH characters (10,000 by default)."
    )


class MediaUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Size and type limits: MEDIA_MAX_UPLOAD_BYTES, MEDIA_ALLOWED_TYPES.")


class CustomEventSerializer(StrictSerializer):
    """A client's own event: sockets receive `custom.<type>` with `{"by", "payload": data}`."""

    type = serializers.RegexField(
        r"^[a-z0-9_.-]{1,50}$", max_length=50, help_text="Sent to sockets as `custom.<type>`."
    )
    data = serializers.DictField(required=False, default=dict)

    def validate_data(self, data):
        if len(json.dumps(data, separators=(",", ":")).encode()) > MAX_CUSTOM_EVENT_BYTES:
            raise serializers.ValidationError(f"At most {MAX_CUSTOM_EVENT_BYTES} bytes of JSON.")
        return data


class ReadStateSerializer(serializers.Serializer):
    """A participant's read state of one workflow: REST (`/api/workflows/{id}/read_state`,
    `/api/read_states`) and the `read_state.updated` event. Needs `unread_count` annotated
    (workflows.reading.read_states)."""

    workflow_id = serializers.CharField()
    last_read_message_id = serializers.CharField(
        allow_null=True, help_text="The last message read; null: none yet. Later messages are unread."
    )
    unread_count = serializers.IntegerField(help_text="Messages after the cursor, the participant's own excepted.")
    muted = serializers.BooleanField()

    def to_representation(self, participant):
        return {
            "workflow_id": participant.workflow_id,
            "last_read_message_id": str(participant.last_read_message_id) if participant.last_read_message_id else None,
            "unread_count": participant.unread_count,
            "muted": participant.muted,
        }


class ReadStateUpdateSerializer(StrictSerializer):
    last_read_message_id = serializers.CharField(
        required=False, allow_null=True, max_length=20,
        help_text="A message of this workflow: it and those before it are read. null: nothing is "
        "read (mark as unread from the first message).",
    )
    muted = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send last_read_message_id, muted or both.")
        return attrs


class TemplateParticipantSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = TemplateParticipant
        fields = ["email", "display_name", "role"]
        read_only_fields = fields


class WorkflowTemplateSerializer(serializers.ModelSerializer):
    """A workflow template, as every template route returns it."""

    id = serializers.CharField(read_only=True)
    tenant_id = serializers.CharField(read_only=True)
    participants = TemplateParticipantSerializer(many=True, read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)

    class Meta:
        model = WorkflowTemplate
        fields = [
            "id",
            "tenant_id",
            "name",
            "title_pattern",
            "description",
            "participants",
            "first_message",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WorkflowTemplateCreateSerializer(StrictSerializer):
    # The limits are workflows.templates_service's (LIMITS); uniqueness and membership too.
    name = serializers.CharField(max_length=120, help_text="Unique in the tenant (ignoring case).")
    title_pattern = serializers.RegexField(
        TITLE_PATTERN_REGEX,
        max_length=200,
        help_text=f"{TITLE_PATTERN_HELP} Titles are cut at 200 characters.",
        error_messages={"invalid": f"Not a title pattern: {TITLE_PATTERN_HELP}"},
    )
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    participants = NewParticipantSerializer(
        many=True, required=False, default=list, help_text="Members of the tenant who join each workflow."
    )
    first_message = serializers.CharField(
        required=False, allow_blank=True, default="",
        help_text="Posted by whoever starts the workflow (a checklist: one item per line); at most "
        "WORKFLOW_MESSAGE_MAX_LENGTH characters.",
    )


class WorkflowTemplateUpdateSerializer(WorkflowTemplateCreateSerializer):
    """PATCH: only the fields sent change; `participants` replaces the list."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required, field.default = False, empty

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one field to change.")
        return attrs


class NewWorkflowSerializer(WorkflowCreateSerializer):
    """POST /api/workflows: a title, a template, or both (the title then replaces the pattern's).
    Seed 000's route keeps WorkflowCreateSerializer."""

    #: The schema says it too (project.openapi): a body without both is invalid.
    schema_requires_one_of = ("title", "template_id")

    title = serializers.CharField(max_length=200, required=False)
    template_id = serializers.CharField(
        max_length=16, required=False,
        help_text="A workflow template of the tenant: its participants join and its first message is posted.",
    )

    def validate(self, attrs):
        if "title" not in attrs and "template_id" not in attrs:
            raise serializers.ValidationError({"title": ["Send a title, a template_id, or both."]})
        return attrs

"""Shapes of the workflow API: validation and representation only. Every write goes through
workflows.services."""

import json

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from project.accounts.access import tenants_for

from .models import HistoryEvent, Message, Participant, Workflow
from .services import message_data

#: Message ids are 64-bit; a larger cursor is a client bug, not "nothing yet".
MAX_CURSOR = 2**63 - 1
MAX_PAGE = 200
#: The serialized `data` of a custom event; it travels to every socket of the workflow.
MAX_CUSTOM_EVENT_BYTES = 16 * 1024


class ParticipantSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Participant
        fields = ["email", "display_name", "role", "joined_at"]
        read_only_fields = fields


class NewParticipantSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Participant.Role.choices, default=Participant.Role.EDITOR)

    def validate_role(self, role):
        if role == Participant.Role.INITIATOR:
            raise serializers.ValidationError("A workflow has one initiator: choose editor or viewer.")
        return role


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


class WorkflowCreateSerializer(serializers.Serializer):
    tenant_id = serializers.CharField(max_length=16)
    title = serializers.CharField(max_length=200)
    participants = NewParticipantSerializer(many=True, required=False, default=list)


class WorkflowUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=Workflow.Status.choices, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send the title, the status or both.")
        return attrs


# Needs the `request` in its context.
class WorkflowFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Workflow.Status.choices, required=False)
    tenant = serializers.CharField(max_length=16, required=False, help_text="A tenant id of yours.")

    def validate_tenant(self, tenant_id):
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
    performed_by = serializers.EmailField(source="performed_by.email", read_only=True)
    snapshot = WorkflowSnapshotSerializer(source="*", read_only=True, help_text="The workflow after the event.")

    class Meta:
        model = HistoryEvent
        fields = ["id", "event_type", "event_timestamp", "performed_by", "details", "snapshot"]
        read_only_fields = fields


# Needs the `request` in its context.
class MessageSerializer(serializers.ModelSerializer):
    """What sockets receive in `message.created`, plus the sender's name and, for a shared
    file, the absolute link that serves it."""

    workflow_id = serializers.CharField(read_only=True)
    sender = serializers.EmailField(source="sender.email", read_only=True, allow_null=True)
    sender_name = serializers.CharField(source="sender.get_full_name", read_only=True, allow_null=True)
    share_url = serializers.SerializerMethodField()

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
        ]
        read_only_fields = fields

    def get_share_url(self, message) -> str | None:
        if not message.share_token:
            return None
        return self.context["request"].build_absolute_uri(reverse("share", args=[message.share_token]))

    def to_representation(self, message):
        """The socket's `message_data` plus the two REST-only fields, built directly: field by
        field, a page of 50 messages cost a third of `GET /api/workflow/messages` (bench/http_reads)."""
        data = message_data(message)
        data["sender_name"] = message.sender.get_full_name() if message.sender else None
        data["share_url"] = self.get_share_url(message)
        data["created_at"] = self.fields["created_at"].to_representation(message.created_at)
        return data


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    cursor = serializers.IntegerField(
        allow_null=True, help_text="Pass as `after` for the next page: the last id returned, or your `after`."
    )
    has_more = serializers.BooleanField()


class MessagePageQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, max_value=MAX_CURSOR, required=False, help_text="Only messages after this cursor (a message id)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=50)


class MessagePageByWorkflowIdSerializer(MessagePageQuerySerializer):
    workflowId = serializers.CharField()


class NewMessageSerializer(serializers.Serializer):
    # The length limit is services.post_message's (WORKFLOW_MESSAGE_MAX_LENGTH).
    content = serializers.CharField(
        help_text="Stripped; at most WORKFLOW_MESSAGE_MAX_LENGTH characters (10,000 by default)."
    )


class NewMessageByWorkflowIdSerializer(NewMessageSerializer):
    workflowId = serializers.CharField()


class MediaUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Size and type limits: MEDIA_MAX_UPLOAD_BYTES, MEDIA_ALLOWED_TYPES.")


class CustomEventSerializer(serializers.Serializer):
    type = serializers.RegexField(
        r"^[a-z0-9_.-]{1,50}$", max_length=50, help_text="Sent to sockets as `custom.<type>`."
    )
    data = serializers.DictField(required=False, default=dict)

    def validate_data(self, data):
        if len(json.dumps(data, separators=(",", ":")).encode()) > MAX_CUSTOM_EVENT_BYTES:
            raise serializers.ValidationError(f"At most {MAX_CUSTOM_EVENT_BYTES} bytes of JSON.")
        return data

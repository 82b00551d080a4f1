"""Shapes of the notifications API: validation and representation only. NotificationSerializer
is a notification's one shape: REST, the `notification.created` frame and the event log;
`notification_data()` writes the same dict out for notify_many()."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from project.serializers import QuerySerializer, StrictSerializer, iso_utc

from .models import EMAIL_KINDS, Kind, Notification


class NotificationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    tenant_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "link", "payload", "tenant_id", "created_at", "read_at"]
        read_only_fields = fields


def notification_data(notification: Notification) -> dict:
    """NotificationSerializer's shape, written out: notify_many() builds it for every reply of a
    queue batch, where the serializer's field machinery was a tenth of the batch's CPU.
    tests/notifications/test_notify_many.py holds the two equal."""
    return {
        "id": str(notification.pk),
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "link": notification.link,
        "payload": notification.payload,
        "tenant_id": None if notification.tenant_id is None else str(notification.tenant_id),
        "created_at": iso_utc(notification.created_at),
        "read_at": iso_utc(notification.read_at),
    }


class NotificationFilterSerializer(QuerySerializer):
    # A missing BooleanField in a query string reads as false unless it has a default.
    unread = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="true: only unread; false: only read."
    )


class DeletedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField(help_text="How many notifications were deleted.")


class BulkDeleteSerializer(QuerySerializer):
    read = serializers.ChoiceField(choices=["true"], help_text="`true`: delete every notification already read.")


class ReadResultSerializer(serializers.Serializer):
    notification = NotificationSerializer()
    unread = serializers.IntegerField()


@extend_schema_field({
    "type": "object",
    "properties": {kind: {"type": "boolean"} for kind in Kind.values},
    "additionalProperties": False,
    "x-keys": "notification kinds",  # data, not field names (tests/project/test_api_vocabulary.py)
})
class KindSwitchesField(serializers.DictField):
    """A map of notification kinds to JSON booleans, documented kind by kind."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            not_booleans = {kind: ["Must be true or false."] for kind, on in data.items() if not isinstance(on, bool)}
            if not_booleans:
                raise serializers.ValidationError(not_booleans)
        return super().to_internal_value(data)


@extend_schema_field({
    "type": "object",
    "properties": {kind: {"type": "boolean"} for kind in EMAIL_KINDS},
    "additionalProperties": False,
    "x-keys": "notification kinds",
})
class EmailKindSwitchesField(KindSwitchesField):
    """A map of the kinds that can be emailed to JSON booleans."""


class PreferencesSerializer(StrictSerializer):
    """`kinds`: every kind of notification (`queue.reply` …) → whether the user receives it;
    `email_kinds`: each kind that can be emailed → whether what the user missed of it is.
    Maps rather than one field per kind: kinds are data, named with dots, not field names."""

    kinds = KindSwitchesField(
        child=serializers.BooleanField(),
        help_text="Kind → on or off. PATCH changes the kinds it names; the others keep their setting.",
    )
    email_kinds = EmailKindSwitchesField(
        child=serializers.BooleanField(),
        help_text=(
            "Kind → emailed or not when unseen in the app for EMAIL_DIGEST_DELAY (in one digest per "
            "EMAIL_DIGEST_PERIOD). PATCH changes the kinds it names."
        ),
    )

    def validate_kinds(self, kinds):
        unknown = sorted(set(kinds) - set(Kind.values))
        if unknown:
            raise serializers.ValidationError({kind: ["Unknown notification kind."] for kind in unknown})
        return kinds

    def validate_email_kinds(self, kinds):
        never = sorted(set(kinds) - set(EMAIL_KINDS))
        if never:
            raise serializers.ValidationError({
                kind: ["Never emailed." if kind in Kind.values else "Unknown notification kind."] for kind in never
            })
        return kinds

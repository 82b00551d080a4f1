"""Shapes of the notifications API: validation and representation only."""

from rest_framework import serializers

from .models import Kind, Notification

#: How many ids one clear may name.
MAX_IDS = 1000


class NotificationSerializer(serializers.ModelSerializer):
    tenant_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "link", "payload", "tenant_id", "created_at", "read_at"]
        read_only_fields = fields


class NotificationFilterSerializer(serializers.Serializer):
    # A missing BooleanField in a query string reads as false unless it has a default.
    unread = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="true: only unread; false: only read."
    )


class CheckSerializer(serializers.Serializer):
    unread = serializers.IntegerField()
    latest = NotificationSerializer(many=True)


class ClearSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=MAX_IDS,
        help_text="Mark only these read; without it, all.",
    )


class ClearResultSerializer(serializers.Serializer):
    cleared = serializers.IntegerField(help_text="How many changed from unread to read.")
    unread = serializers.IntegerField()


class ReadResultSerializer(serializers.Serializer):
    notification = NotificationSerializer()
    unread = serializers.IntegerField()


class PreferencesSerializer(serializers.Serializer):
    """Every kind → whether the user receives it in the app."""

    def get_fields(self):
        # A dotted source would be read as a path into nested data: give each field a flat one.
        return {
            kind: serializers.BooleanField(required=False, help_text=label, source=_flat(kind))
            for kind, label in Kind.choices
        }

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(Kind.values)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({kind: ["Unknown notification kind."] for kind in unknown})
        return {kind: attrs[_flat(kind)] for kind in Kind.values if _flat(kind) in attrs}


def _flat(kind: str) -> str:
    return kind.replace(".", "__")

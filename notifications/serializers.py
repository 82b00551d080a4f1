"""Shapes of the notifications API: validation and representation only. NotificationSerializer
is a notification's one shape: REST, the `notification.created` frame and the event log."""

from rest_framework import serializers

from .models import Kind, Notification


class NotificationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
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


class ReadResultSerializer(serializers.Serializer):
    notification = NotificationSerializer()
    unread = serializers.IntegerField()


class PreferencesSerializer(serializers.Serializer):
    """`kinds`: every kind of notification (`queue.reply` …) → whether the user receives it.
    A map rather than one field per kind: kinds are data, named with dots, not field names."""

    kinds = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="Kind → on or off. PATCH changes the kinds it names; the others keep their setting.",
    )

    def validate_kinds(self, kinds):
        unknown = sorted(set(kinds) - set(Kind.values))
        if unknown:
            raise serializers.ValidationError({kind: ["Unknown notification kind."] for kind in unknown})
        return kinds

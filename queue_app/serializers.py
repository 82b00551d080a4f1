"""Shapes of the queue API: validation only (camelCase, as the original clients send it).
Responses are queue_app.services.message_data(); QueueMessageSerializer documents it."""

from rest_framework import serializers

from .models import QueueMessage
from .services import MAX_PRIORITY

MAX_LIMIT = 200
MAX_CURSOR = 2**63 - 1


class EntityListField(serializers.ListField):
    child = serializers.CharField(max_length=64)

    def __init__(self, **kwargs):
        super().__init__(max_length=50, **kwargs)


class NewCommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=100_000, trim_whitespace=True)
    username = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    color = serializers.CharField(max_length=7, required=False, default="", allow_blank=True)
    tenantId = serializers.CharField(max_length=16, required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(min_value=0, max_value=MAX_PRIORITY, required=False, default=0)
    entity = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    replyTo = serializers.CharField(max_length=10, required=False, allow_null=True, default=None)
    messageType = serializers.ChoiceField(choices=QueueMessage.Type.choices, required=False, default="human")


class CommentsQuerySerializer(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, max_value=MAX_CURSOR, required=False, help_text="Milliseconds since the epoch.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, default=50)
    tenantId = serializers.CharField(max_length=16, required=False, help_text="A tenant's stream instead of the public one.")


class PendingQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, default=10)
    entity = serializers.CharField(max_length=64, required=False)


class ClaimSerializer(serializers.Serializer):
    messageId = serializers.CharField(max_length=10)
    workerId = serializers.CharField(max_length=100)
    leaseSeconds = serializers.FloatField(required=False, allow_null=True, default=None)


class ClaimNextSerializer(serializers.Serializer):
    workerId = serializers.CharField(max_length=100)
    entity = serializers.CharField(max_length=64, required=False, allow_blank=True, help_text="Only this entity's messages.")
    entities = EntityListField(required=False, help_text="Only these entities' messages.")
    leaseSeconds = serializers.FloatField(required=False, allow_null=True, default=None)


class HeldClaimSerializer(serializers.Serializer):
    messageId = serializers.CharField(max_length=10)
    workerId = serializers.CharField(max_length=100)
    claimToken = serializers.CharField(max_length=32)


class CompleteSerializer(HeldClaimSerializer):
    reply = serializers.CharField(max_length=100_000, required=False, allow_null=True, default=None,
                                  help_text="The bot's answer, stored as an ai message replying to this one.")
    username = serializers.CharField(max_length=100, required=False, default="", allow_blank=True,
                                     help_text="The reply's author name (default: the message's entity).")
    color = serializers.CharField(max_length=7, required=False, default="", allow_blank=True)
    next = serializers.BooleanField(required=False, default=False, help_text="Also claim this worker's next message.")
    entity = serializers.CharField(max_length=64, required=False, allow_blank=True)
    entities = EntityListField(required=False)
    leaseSeconds = serializers.FloatField(required=False, allow_null=True, default=None)


class FailSerializer(HeldClaimSerializer):
    error = serializers.CharField(max_length=10_000)


class HeartbeatSerializer(HeldClaimSerializer):
    leaseSeconds = serializers.FloatField(required=False, allow_null=True, default=None)


class RetrySerializer(serializers.Serializer):
    messageId = serializers.CharField(max_length=10)


class QueueMessageSerializer(serializers.Serializer):
    """Documents services.message_data()."""

    id = serializers.CharField()
    tenantId = serializers.CharField(allow_null=True, help_text="null: the public stream.")
    timestamp = serializers.IntegerField(help_text="Milliseconds since the epoch.")
    text = serializers.CharField()
    username = serializers.CharField()
    color = serializers.CharField()
    messageType = serializers.ChoiceField(choices=QueueMessage.Type.choices)
    replyTo = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=QueueMessage.Status.choices)
    priority = serializers.IntegerField()
    entity = serializers.CharField()
    claimedBy = serializers.CharField()
    claimedAt = serializers.DateTimeField(allow_null=True)
    leaseExpiresAt = serializers.DateTimeField(allow_null=True)
    availableAt = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    completedAt = serializers.DateTimeField(allow_null=True)
    lastError = serializers.CharField()


class ThreadItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    username = serializers.CharField()
    messageType = serializers.CharField()


class ClaimedMessageSerializer(QueueMessageSerializer):
    claimToken = serializers.CharField(help_text="Send it back with complete, fail, heartbeat and release.")
    thread = ThreadItemSerializer(many=True, help_text="The messages this one replies to, oldest first.")


class CreatedCommentSerializer(serializers.Serializer):
    id = serializers.CharField()
    timestamp = serializers.IntegerField()
    status = serializers.CharField()


class CommentsPageSerializer(serializers.Serializer):
    results = QueueMessageSerializer(many=True)
    cursor = serializers.IntegerField(allow_null=True, help_text="Pass as `since` to get what comes next.")


class CompletedSerializer(serializers.Serializer):
    message = QueueMessageSerializer()
    reply = QueueMessageSerializer(allow_null=True)
    next = ClaimedMessageSerializer(allow_null=True, help_text="With next=true: the next claimed message, or null.")

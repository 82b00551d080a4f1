"""Seed 002's original clients (../shared/seeds/002_*.txt, "saywhatwant"): its frontend and its
bot work against Harbor with nothing changed but the address and a bearer token. The routes and
shapes are the seed's, translated to and from queue_app.services here and nowhere else:

- `POST /api/comments` a message → `201 {"id", "timestamp", "status": "success"}`
- `GET /api/comments?since=<ms>` → `[message, …]`, newer than `since`, oldest first, at most 200
- `GET /api/queue/pending?limit=10` → `[message, …]`, claimable, priority first, then oldest
- `POST /api/queue/claim {"messageId", "workerId"}` → `{"success": true, "message"}`, or 409
- `POST /api/queue/complete {"messageId"}` → `{"success": true}`, or 409

A message is `{"id", "timestamp" (ms), "text", "username", "color" ("RRRGGGBBB", decimal),
"messageType" ("human" | "AI"), "replyTo", "botParams": {"status", "priority", "entity",
"claimedBy", "claimedAt" (ms), "completedAt" (ms)}}`. Every field is stored (colours as
Harbor's `#rrggbb`); a field the seed does not define is a 400 naming it. The seed's queue was
one global stream: these routes serve Harbor's public stream. The queue routes are for bots
and staff, as Harbor's own are; the seed's bot completes by message id alone, so a completion
is accepted from the bot user whose worker holds the claim (Harbor's own routes require the
claim's fencing token)."""

from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.accounts.services import Conflict
from project.api import validated
from project.serializers import QuerySerializer, StrictSerializer
from queue_app import services
from queue_app.api import WorkerView
from queue_app.models import ENTITY, MAX_PRIORITY, WORKER_ID, QueueMessage

TAGS = ["original clients"]
#: What one GET /api/comments returns at most (the seed kept its last 200 messages).
COMMENTS_LIMIT = 200
Type = QueueMessage.Type
Status = QueueMessage.Status

#: Harbor's field (a services ValidationError key) → the seed's, for the few checks only the
#: services can make (a reply_to in another stream, a text over QUEUE_MESSAGE_MAX_LENGTH).
SEED_FIELDS = {"reply_to": "replyTo", "message_type": "messageType", "priority": "botParams", "entity": "botParams",
               "claimed_by": "botParams", "claimed_at": "botParams", "completed_at": "botParams"}


# --- Fields that translate one value both ways -----------------------------------------------

@extend_schema_field({"type": "string", "pattern": r"^(([01]\d\d|2[0-4]\d|25[0-5]){3})?$", "example": "169080199"})
class SeedColorField(serializers.Field):
    """The seed's RRRGGGBBB (three decimal 0-255 components) ↔ Harbor's `#rrggbb`."""

    def to_internal_value(self, value):
        if value in ("", None):
            return ""
        if not (isinstance(value, str) and len(value) == 9 and value.isascii() and value.isdecimal()):
            raise serializers.ValidationError("RRRGGGBBB: nine digits, e.g. 169080199.")
        parts = [int(value[i:i + 3]) for i in (0, 3, 6)]
        if max(parts) > 255:
            raise serializers.ValidationError("Each of RRR, GGG and BBB is 000-255.")
        return "#" + "".join(f"{part:02x}" for part in parts)

    def to_representation(self, value):
        if not value:
            return ""
        return "".join(f"{int(value[i:i + 2], 16):03d}" for i in (1, 3, 5))


@extend_schema_field({"type": "string", "enum": ["human", "AI"]})
class SeedTypeField(serializers.Field):
    """The seed's "human" | "AI" ↔ Harbor's human | ai."""

    SEED = {Type.HUMAN: "human", Type.AI: "AI"}

    def to_internal_value(self, value):
        for harbor, seed in self.SEED.items():
            if value == seed:
                return harbor
        raise serializers.ValidationError('"human" or "AI".')

    def to_representation(self, value):
        return self.SEED[value]


@extend_schema_field({"type": "integer", "nullable": True, "description": "Milliseconds since the epoch."})
class MillisecondsField(serializers.Field):
    """The seed's epoch milliseconds ↔ Harbor's datetimes."""

    def to_internal_value(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53:
            raise serializers.ValidationError("Milliseconds since the epoch.")
        return datetime.fromtimestamp(value / 1000, UTC)

    def to_representation(self, value):
        return int(value.timestamp() * 1000)


class EmptyAsNullField(serializers.CharField):
    """Harbor's "" (none) is the seed's null."""

    def to_representation(self, value):
        return value or None


# --- The seed's message ------------------------------------------------------------------------

class SeedBotParamsSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Status.values, required=False, allow_null=True)
    priority = serializers.IntegerField(min_value=0, max_value=MAX_PRIORITY, required=False, default=0)
    entity = EmptyAsNullField(max_length=64, required=False, allow_null=True, allow_blank=True, default="")
    claimedBy = EmptyAsNullField(source="claimed_by", max_length=100, required=False, allow_null=True,
                                 allow_blank=True, default="")
    claimedAt = MillisecondsField(source="claimed_at", required=False, allow_null=True, default=None)
    completedAt = MillisecondsField(source="completed_at", required=False, allow_null=True, default=None)

    def validate_entity(self, value):
        if value and not ENTITY.match(value):
            raise serializers.ValidationError("Lower-case letters, digits, - and _, up to 64.")
        return value or ""

    def validate_claimedBy(self, value):
        if value and not WORKER_ID.match(value):
            raise serializers.ValidationError("1-100 characters of letters, digits and . _ : @ -")
        return value or ""


class SeedMessageSerializer(StrictSerializer):
    """The seed's message object, both ways: `.data` of a QueueMessage is what the seed's
    clients read, and validating a posted one yields the arguments of services.post_message."""

    id = serializers.RegexField(r"^[A-Za-z0-9]{1,10}$", required=False, allow_null=True,
                                help_text="Harbor picks one unless given (a taken id is a 409).")
    timestamp = serializers.IntegerField(min_value=0, max_value=2**53, required=False, allow_null=True,
                                         help_text="Milliseconds since the epoch (default: now).")
    text = serializers.CharField(max_length=100_000)
    username = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    color = SeedColorField(required=False, default="")
    messageType = SeedTypeField(source="message_type", required=False, default=Type.HUMAN)
    replyTo = serializers.CharField(source="reply_to_id", max_length=10, required=False, allow_null=True, default=None)
    botParams = SeedBotParamsSerializer(source="*", required=False)

    def validate_text(self, value):
        if len(value) > settings.QUEUE_MESSAGE_MAX_LENGTH:
            raise serializers.ValidationError(f"Messages are limited to {settings.QUEUE_MESSAGE_MAX_LENGTH} characters.")
        return value

    def validate(self, data):
        """botParams.status is the one Harbor gives a new message: a human message starts
        pending, an AI message is born complete."""
        born = Status.COMPLETE if data["message_type"] == Type.AI else Status.PENDING
        if data.pop("status", None) not in (None, born):
            raise serializers.ValidationError({"botParams": {"status": [f"A new {self.fields['messageType'].SEED[data['message_type']]} message is {born}."]}})
        return data


def seed_message(message: QueueMessage) -> dict:
    return SeedMessageSerializer(message).data


class SeedCreatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    timestamp = serializers.IntegerField()
    status = serializers.CharField(help_text='"success"')


class SeedSinceSerializer(QuerySerializer):
    since = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False,
                                     help_text="Milliseconds since the epoch: only newer messages.")


class SeedPendingQuerySerializer(QuerySerializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=10)


class SeedClaimSerializer(StrictSerializer):
    messageId = serializers.CharField(max_length=10)
    workerId = serializers.RegexField(WORKER_ID.pattern, max_length=100)


class SeedCompleteSerializer(StrictSerializer):
    messageId = serializers.CharField(max_length=10)


class SeedClaimedSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = SeedMessageSerializer()


class SeedSuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


CONFLICT = OpenApiResponse(SeedSuccessSerializer, description='{"success": false, "error"}: the message is not in the right state.')


def conflict(error: Conflict) -> Response:
    """The seed's bot reads `success` on every answer of the queue routes, 409s included."""
    return Response({"success": False, "error": str(error)}, status=status.HTTP_409_CONFLICT)


# --- Views -------------------------------------------------------------------------------------

class CommentsView(APIView):
    @extend_schema(tags=TAGS, operation_id="original_comments_list", parameters=[SeedSinceSerializer],
                   responses=SeedMessageSerializer(many=True))
    def get(self, request):
        since = validated(SeedSinceSerializer, request.query_params).get("since")
        return Response(SeedMessageSerializer(services.list_messages(None, since, COMMENTS_LIMIT), many=True).data)

    @extend_schema(tags=TAGS, operation_id="original_comments_create", request=SeedMessageSerializer,
                   responses={201: SeedCreatedSerializer})
    def post(self, request):
        data = validated(SeedMessageSerializer, request.data)
        try:
            message = services.post_message(
                request.user, data.pop("text"), reply_to=data.pop("reply_to_id"), message_id=data.pop("id", None),
                **data,
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                {SEED_FIELDS.get(field, field): messages for field, messages in error.message_dict.items()}
            ) from None
        return Response({"id": message.id, "timestamp": message.timestamp, "status": "success"},
                        status=status.HTTP_201_CREATED)


class PendingView(WorkerView):
    @extend_schema(tags=TAGS, operation_id="original_queue_pending", parameters=[SeedPendingQuerySerializer],
                   responses=SeedMessageSerializer(many=True))
    def get(self, request):
        limit = validated(SeedPendingQuerySerializer, request.query_params)["limit"]
        return Response(SeedMessageSerializer(services.pending(limit, public_only=True), many=True).data)


class ClaimView(WorkerView):
    @extend_schema(tags=TAGS, operation_id="original_queue_claim", request=SeedClaimSerializer,
                   responses={200: SeedClaimedSerializer, 409: CONFLICT})
    def post(self, request):
        data = validated(SeedClaimSerializer, request.data)
        try:
            message = services.claim(data["messageId"], data["workerId"], claimant=request.user)
        except Conflict as error:
            return conflict(error)
        return Response({"success": True, "message": seed_message(message)})


class CompleteView(WorkerView):
    @extend_schema(tags=TAGS, operation_id="original_queue_complete", request=SeedCompleteSerializer,
                   responses={200: SeedSuccessSerializer, 409: CONFLICT})
    def post(self, request):
        message_id = validated(SeedCompleteSerializer, request.data)["messageId"]
        try:
            held = services.claim_held_by(message_id, request.user)
            services.complete(message_id, held.claimed_by, held.claim_token, claimant=request.user)
        except Conflict as error:
            return conflict(error)
        return Response({"success": True})


urlpatterns = [
    path("api/comments", CommentsView.as_view(), name="original-comments"),
    path("api/queue/pending", PendingView.as_view(), name="original-queue-pending"),
    path("api/queue/claim", ClaimView.as_view(), name="original-queue-claim"),
    path("api/queue/complete", CompleteView.as_view(), name="original-queue-complete"),
]

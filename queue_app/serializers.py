"""The queue's wire shapes (docs/api.md, "Queue").

`QueueMessageSerializer` is the one shape of a message: `message_data()` builds it for REST
responses, and the services publish the same dict as the `data` of socket frames and the event
log. The input serializers validate Harbor's own routes at the edge, so a 400 names the
request's field (`worker_id`, `lease_seconds`, `reply`, `error`) where the services, which
know no wire format, would name the model's."""

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from project.serializers import QuerySerializer, StrictSerializer, iso_utc

from .models import COLOR, ENTITY, MAX_BATCH, MAX_PRIORITY, WORKER_ID, QueueMessage


# --- Output -----------------------------------------------------------------------------------

class QueueMessageSerializer(serializers.Serializer):
    """A message of a stream. Never carries the claim token (only the claimant gets it)."""

    id = serializers.CharField()
    tenant_id = serializers.CharField(allow_null=True, help_text="null: the public stream.")
    created_at = serializers.DateTimeField()
    text = serializers.CharField()
    username = serializers.CharField()
    color = serializers.CharField(help_text="#rrggbb, or empty.")
    message_type = serializers.ChoiceField(choices=QueueMessage.Type.choices)
    reply_to = serializers.CharField(source="reply_to_id", allow_null=True, help_text="The id of the message this answers.")
    status = serializers.ChoiceField(choices=QueueMessage.Status.choices)
    priority = serializers.IntegerField(min_value=0, max_value=MAX_PRIORITY)
    entity = serializers.CharField(help_text="The bot persona that should answer, or empty.")
    claimed_by = serializers.CharField(help_text="The worker id of the last claim, or empty.")
    claimed_at = serializers.DateTimeField(allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    available_at = serializers.DateTimeField(help_text="Not claimable before (retry backoff).")
    attempts = serializers.IntegerField()
    completed_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    partial_text = serializers.CharField(
        help_text="While a bot streams its answer (processing): the text so far; empty otherwise. "
                  "Live updates come as `streaming` frames on the stream's socket.")


def message_data(message: QueueMessage) -> dict:
    """The one JSON shape of a message (QueueMessageSerializer's): REST responses, socket frames'
    `data`, the event log. Written out rather than through the serializer: a batch builds it six
    times per answered message (events and responses), and DRF's field machinery was a third of
    a batched completion's CPU. tests/queue_app/test_serializers.py holds the two equal."""
    return {
        "id": message.id,
        "tenant_id": message.tenant_id,
        "created_at": iso_utc(message.created_at),
        "text": message.text,
        "username": message.username,
        "color": message.color,
        "message_type": message.message_type,
        "reply_to": message.reply_to_id,
        "status": message.status,
        "priority": message.priority,
        "entity": message.entity,
        "claimed_by": message.claimed_by,
        "claimed_at": iso_utc(message.claimed_at),
        "lease_expires_at": iso_utc(message.lease_expires_at),
        "available_at": iso_utc(message.available_at),
        "attempts": message.attempts,
        "completed_at": iso_utc(message.completed_at),
        "last_error": message.last_error,
        "partial_text": message.partial_text,
    }


class ThreadItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    username = serializers.CharField()
    message_type = serializers.ChoiceField(choices=QueueMessage.Type.choices)


class ClaimedMessageSerializer(QueueMessageSerializer):
    """A message as its claimant gets it: with the fencing token and the thread it answers."""

    claim_token = serializers.CharField(help_text="Send it back with complete, fail, release and heartbeat.")
    thread = serializers.SerializerMethodField(help_text="The messages this one replies to, oldest first.")

    @extend_schema_field(ThreadItemSerializer(many=True))
    def get_thread(self, message) -> list[dict]:
        return ThreadItemSerializer(message.ancestors(), many=True).data


def claimed_data(message: QueueMessage) -> dict:
    """A message as its claimant gets it (ClaimedMessageSerializer's shape), written out as
    message_data is."""
    return {
        **message_data(message),
        "claim_token": message.claim_token,
        "thread": [{"id": item.id, "text": item.text, "username": item.username, "message_type": item.message_type}
                   for item in message.ancestors()],
    }


class CompletedSerializer(serializers.Serializer):
    message = QueueMessageSerializer()
    reply = QueueMessageSerializer(allow_null=True, help_text="The reply written with the completion, or null.")
    next = ClaimedMessageSerializer(allow_null=True, help_text="With next=true: the next claimed message, or null.")


class ClaimListSerializer(serializers.Serializer):
    results = ClaimedMessageSerializer(many=True, help_text="The claims, best first (empty: nothing to claim).")
    next_cursor = serializers.CharField(allow_null=True, help_text="Always null: claim again for more.")
    has_more = serializers.BooleanField(help_text="True when the list is as long as the limit: more may wait.")


def claim_list_data(claimed: list, limit: int) -> dict:
    return {"results": [claimed_data(message) for message in claimed], "next_cursor": None,
            "has_more": bool(limit) and len(claimed) >= limit}


def completed_data(message, reply, following) -> dict:
    return {
        "message": message_data(message),
        "reply": message_data(reply) if reply else None,
        "next": claimed_data(following) if following else None,
    }


# --- Input --------------------------------------------------------------------------------------

def _worker_id_field():
    return serializers.CharField(
        max_length=100, validators=[RegexValidator(WORKER_ID, "1-100 characters of letters, digits and . _ : @ -")],
        help_text="Your worker's id (public: it shows as claimed_by).",
    )


def _color_field():
    return serializers.RegexField(f"^({COLOR.pattern[1:-1]})?$", required=False, default="", allow_blank=True,
                                  help_text="#rrggbb, or empty.")


def _lease_field():
    return serializers.FloatField(
        required=False, allow_null=True, default=None,
        help_text="Seconds (default QUEUE_LEASE_SECONDS, at most QUEUE_MAX_LEASE_SECONDS).",
    )


def _entities_field():
    return serializers.ListField(child=serializers.RegexField(ENTITY.pattern, max_length=64), max_length=50,
                                 required=False, help_text="Only these entities' messages.")


class LeaseMixin:
    def validate_lease_seconds(self, value):
        if value is not None and not 0 < value <= settings.QUEUE_MAX_LEASE_SECONDS:
            raise serializers.ValidationError(
                f"More than 0 and at most {settings.QUEUE_MAX_LEASE_SECONDS:g} seconds."
            )
        return value


class EntitiesMixin:
    def validate(self, data):
        entities = list(data.pop("entities", None) or [])
        if entity := data.pop("entity", ""):
            entities.append(entity)
        data["entities"] = entities or None
        return data


class StreamQuerySerializer(QuerySerializer):
    tenant_id = serializers.CharField(max_length=16, required=False, help_text="A tenant's stream instead of the public one.")
    status = serializers.ChoiceField(choices=QueueMessage.Status.choices, required=False)
    entity = serializers.CharField(max_length=64, required=False)


class NewQueueMessageSerializer(StrictSerializer):
    text = serializers.CharField(max_length=100_000)
    username = serializers.CharField(max_length=100, required=False, default="", allow_blank=True,
                                     help_text="Shown with the message; default: your display name. Bots' "
                                               "names (QUEUE_BOT_NAME, personas, bot users) are for bots: 400.")
    color = _color_field()
    tenant_id = serializers.CharField(max_length=16, required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(min_value=0, max_value=MAX_PRIORITY, required=False, default=0)
    entity = serializers.RegexField(f"^({ENTITY.pattern[1:-1]})?$", max_length=64, required=False, default="",
                                    allow_blank=True, help_text="The bot persona to answer (empty: any).")
    reply_to = serializers.CharField(max_length=10, required=False, allow_null=True, default=None)
    message_type = serializers.ChoiceField(choices=QueueMessage.Type.choices, required=False, default="human",
                                           help_text="ai only for bots and staff.")


class ClaimSerializer(EntitiesMixin, LeaseMixin, StrictSerializer):
    """A named message (`message_id`), or the best claimable one (of `entity`/`entities`), or with
    `limit` up to that many of the best."""

    worker_id = _worker_id_field()
    message_id = serializers.CharField(max_length=10, required=False, help_text="Claim this message; else the next one.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_BATCH, required=False,
                                     help_text=f"Claim up to this many (1-{MAX_BATCH}); the answer is then a list.")
    entity = serializers.RegexField(ENTITY.pattern, max_length=64, required=False, help_text="Only this entity's messages.")
    entities = _entities_field()
    lease_seconds = _lease_field()

    def validate(self, data):
        if data.get("message_id") and (data.get("entity") or data.get("entities")):
            raise serializers.ValidationError({"message_id": ["Either a message_id or entities, not both."]})
        if data.get("message_id") and "limit" in data:
            raise serializers.ValidationError({"limit": ["Either a message_id or a limit, not both."]})
        return super().validate(data)


class HeldClaimSerializer(StrictSerializer):
    worker_id = _worker_id_field()
    claim_token = serializers.CharField(max_length=32, help_text="The claim's fencing token.")


class CompleteSerializer(EntitiesMixin, LeaseMixin, HeldClaimSerializer):
    reply = serializers.CharField(max_length=100_000, required=False, allow_null=True, default=None,
                                  help_text="The bot's answer, stored as an ai message replying to this one.")
    username = serializers.CharField(max_length=100, required=False, default="", allow_blank=True,
                                     help_text="The reply's author name (default: the message's entity).")
    color = _color_field()
    next = serializers.BooleanField(required=False, default=False, help_text="Also claim this worker's next message.")
    entity = serializers.RegexField(ENTITY.pattern, max_length=64, required=False)
    entities = _entities_field()
    lease_seconds = _lease_field()

    def validate_reply(self, value):
        if value is not None and len(value) > settings.QUEUE_MESSAGE_MAX_LENGTH:
            raise serializers.ValidationError(f"Messages are limited to {settings.QUEUE_MESSAGE_MAX_LENGTH} characters.")
        return value

    def run_validation(self, data=serializers.empty):
        """A well-formed completion (the seed's flow: one request per answered message) is checked
        in a few comparisons, as CompletionItemSerializer's; any other goes through the fields."""
        plain = _plain_complete(data)
        return plain if plain is not None else super().run_validation(data)


class FailSerializer(HeldClaimSerializer):
    error = serializers.CharField(max_length=10_000, help_text="What went wrong (kept as last_error).")


class HeartbeatSerializer(LeaseMixin, HeldClaimSerializer):
    lease_seconds = _lease_field()


# --- Batches of claims (POST /api/queue/completions, /failures, /releases) ---------------------

class BatchItemErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="not_found, or conflict (not processing under this claim).")
    message = serializers.CharField()
    fields = serializers.DictField()


class BatchItemSerializer(serializers.Serializer):
    """What became of one claim of a batch: `status` as the single-message route would answer,
    then the message (and a completion's reply), or the error of this claim alone."""

    id = serializers.CharField()
    status = serializers.IntegerField(help_text="200, 404 or 409.")
    message = QueueMessageSerializer(allow_null=True)
    reply = QueueMessageSerializer(allow_null=True, required=False, help_text="Completions: the reply, or null.")
    error = BatchItemErrorSerializer(allow_null=True)


class BatchResultsSerializer(serializers.Serializer):
    results = BatchItemSerializer(many=True, help_text="One per claim sent, in the same order.")
    next_cursor = serializers.CharField(allow_null=True, help_text="Always null.")
    has_more = serializers.BooleanField(help_text="Always false.")


class CompletionsResultsSerializer(serializers.Serializer):
    completed = BatchResultsSerializer(help_text="One result per claim sent, in the same order.")
    next = ClaimListSerializer(help_text="With next: n, the worker's new claims (up to n; none unless this "
                                         "request completed something new).")


def _claims_field(child):
    return serializers.ListField(child=child, min_length=1, max_length=MAX_BATCH,
                                 help_text=f"1-{MAX_BATCH} claims, each message once.")


class HeldItemSerializer(StrictSerializer):
    id = serializers.CharField(max_length=10, help_text="The message's id.")
    claim_token = serializers.CharField(max_length=32)


class CompletionItemSerializer(HeldItemSerializer):
    reply = serializers.CharField(max_length=100_000, required=False, allow_null=True, default=None)
    username = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    color = _color_field()

    def validate_reply(self, value):
        if value is not None and len(value) > settings.QUEUE_MESSAGE_MAX_LENGTH:
            raise serializers.ValidationError(f"Messages are limited to {settings.QUEUE_MESSAGE_MAX_LENGTH} characters.")
        return value

    def run_validation(self, data=serializers.empty):
        """A well-formed completion is checked in a few comparisons (`_plain_completion`); any
        other goes through the fields above, which give the errors. The fields of 40 completions
        were a sixth of a batch's CPU (the queue benchmark's in-process profile);
        tests/queue_app/test_serializers.py holds the two to the same answers."""
        plain = _plain_completion(data)
        return plain if plain is not None else super().run_validation(data)


_ANSWER_FIELDS = frozenset({"claim_token", "reply", "username", "color"})
_COMPLETION_FIELDS = _ANSWER_FIELDS | {"id"}
_COMPLETE_FIELDS = _ANSWER_FIELDS | {"worker_id", "next"}


def _plain_text(value, max_length: int, *, blank: bool = False) -> bool:
    """What CharField would return unchanged: a str, already trimmed, within its length, with no
    NUL or lone surrogate (which CharField refuses)."""
    if type(value) is not str or len(value) > max_length or (not value and not blank) or value.strip() != value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def _plain_answer(item: dict) -> dict | None:
    """The claim token, reply, username and color of a well-formed completion, as the fields
    would validate them; None when any needs the fields (to pass or to name the error)."""
    reply, username, color = item.get("reply"), item.get("username", ""), item.get("color", "")
    if not (
        _plain_text(item.get("claim_token"), 32)
        and (reply is None or _plain_text(reply, min(100_000, settings.QUEUE_MESSAGE_MAX_LENGTH)))
        and _plain_text(username, 100, blank=True)
        and (color == "" or (_plain_text(color, 7) and COLOR.match(color)))
    ):
        return None
    return {"claim_token": item["claim_token"], "reply": reply, "username": username, "color": color}


def _plain_completion(item) -> dict | None:
    """A batch's completion item (CompletionItemSerializer)."""
    if type(item) is not dict or not item.keys() <= _COMPLETION_FIELDS or not _plain_text(item.get("id"), 10):
        return None
    answer = _plain_answer(item)
    return None if answer is None else {"id": item["id"], **answer}


def _plain_complete(data) -> dict | None:
    """A single route's completion (CompleteSerializer) without entities or lease."""
    if type(data) is not dict or not data.keys() <= _COMPLETE_FIELDS or type(data.get("next", False)) is not bool:
        return None
    worker_id = data.get("worker_id")
    if not (_plain_text(worker_id, 100) and WORKER_ID.match(worker_id)):
        return None
    answer = _plain_answer(data)
    return None if answer is None else {"worker_id": worker_id, **answer, "next": data.get("next", False),
                                        "entities": None, "lease_seconds": None}


class FailureItemSerializer(HeldItemSerializer):
    error = serializers.CharField(max_length=10_000, help_text="What went wrong (kept as last_error).")
    permanent = serializers.BooleanField(
        required=False, default=False, help_text="Asking again cannot help (a 4xx, a refusal): a dead letter at once.")
    retry_after_seconds = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=0, max_value=86_400,
        help_text="Not claimable again for this long (the provider's Retry-After), instead of the backoff.")
    deferred = serializers.BooleanField(
        required=False, default=False,
        help_text="The model never ran it (an open breaker, a 429/503/529): no attempt is spent.")


class PartialItemSerializer(HeldItemSerializer):
    partial_text = serializers.CharField(max_length=100_000, allow_blank=True, trim_whitespace=False,
                                         help_text="The answer's text so far (shown live, never stored as a reply).")


class UniqueClaimsMixin:
    def validate_claims(self, claims):
        ids = [claim["id"] for claim in claims]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each message once per batch.")
        return claims


class CompletionsSerializer(UniqueClaimsMixin, EntitiesMixin, LeaseMixin, StrictSerializer):
    worker_id = _worker_id_field()
    claims = _claims_field(CompletionItemSerializer())
    next = serializers.IntegerField(min_value=0, max_value=MAX_BATCH, required=False, default=0,
                                    help_text=f"Also claim up to this many next messages (0-{MAX_BATCH}).")
    entity = serializers.RegexField(ENTITY.pattern, max_length=64, required=False)
    entities = _entities_field()
    lease_seconds = _lease_field()


class FailuresSerializer(UniqueClaimsMixin, StrictSerializer):
    worker_id = _worker_id_field()
    claims = _claims_field(FailureItemSerializer())


class ReleasesSerializer(UniqueClaimsMixin, StrictSerializer):
    worker_id = _worker_id_field()
    claims = _claims_field(HeldItemSerializer())


class PartialsSerializer(UniqueClaimsMixin, StrictSerializer):
    worker_id = _worker_id_field()
    claims = _claims_field(PartialItemSerializer())


# --- A tenant's own provider ------------------------------------------------------------------

class TenantProviderSerializer(serializers.Serializer):
    """A tenant's provider settings as its owners see them: never the key, only its last four."""

    tenant_id = serializers.CharField()
    provider = serializers.ChoiceField(choices=["openai", "anthropic", "ollama"])
    model = serializers.CharField()
    base_url = serializers.CharField(help_text="The SDK's base_url; empty: the provider's own.")
    has_api_key = serializers.BooleanField()
    api_key_last4 = serializers.CharField(help_text="The saved key's last four characters, or empty.")
    updated_at = serializers.DateTimeField()


def tenant_provider_data(row) -> dict:
    return {"tenant_id": row.tenant_id, "provider": row.provider, "model": row.model, "base_url": row.base_url,
            "has_api_key": bool(row.api_key_encrypted), "api_key_last4": row.api_key_last4,
            "updated_at": iso_utc(row.updated_at)}


class TenantProviderInputSerializer(StrictSerializer):
    provider = serializers.ChoiceField(choices=["openai", "anthropic", "ollama"])
    model = serializers.CharField(max_length=100)
    base_url = serializers.CharField(max_length=500, required=False, default="", allow_blank=True,
                                     help_text="With /v1 for OpenAI-compatible servers; empty: the provider's own.")
    api_key = serializers.CharField(max_length=500, required=False, allow_null=True, default=None, allow_blank=True,
                                    trim_whitespace=False, write_only=True,
                                    help_text="Omitted or null: keep the saved key; empty: remove it. Never returned.")


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    reply = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="The provider's own error message.")

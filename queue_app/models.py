import re
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from project.accounts.models import Tenant
from project.ids import new_public_id
from project.sql import LoadedWithoutInit

PUBLIC_STREAM = "public"
MAX_PRIORITY = 10
#: The most claims one call takes or hands in: a claim's `limit`, a list of claims to complete,
#: fail or release (queue_app.services; the bot asks for at most this many at once). 40, not more:
#: Django caps an SQLite statement at 999 parameters, and a batch's replies (21 columns each)
#: stay one INSERT up to 47.
MAX_BATCH = 40
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
ENTITY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
WORKER_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,100}$")
#: The heartbeat name of `manage.py run_bot` (project/workers). Every bot's heartbeat name starts
#: with it (`--name queue-bot-duke`), which is how the stream page tells whether a bot is online.
BOT_HEARTBEAT = "queue-bot"


def new_message_id() -> str:
    # Random, not a timestamp: ids must not reveal order or let anyone guess the next one.
    return new_public_id(10)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class QueueMessage(LoadedWithoutInit, models.Model):
    """One message of a stream. A stream is the public one (tenant is NULL) or a tenant's own.

    Human messages start pending and are answered by a bot: a claim moves a message to
    processing under a fresh `claim_token` (a fencing token) and a lease; completion writes the
    bot's reply (an `ai` message, born complete) and marks the message complete. Every state
    change goes through queue_app.services."""

    class Type(models.TextChoices):
        HUMAN = "human"
        AI = "ai"

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        COMPLETE = "complete"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=10, default=new_message_id, editable=False)
    #: No index of its own: queue_stream_since starts with it (see Meta.indexes).
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="queue_messages",
        help_text="Empty for the public stream.", db_index=False,
    )
    #: Milliseconds since the epoch: the stream's order (`created_at` on the wire), and seed 002's
    #: `since` (project/original/comments.py).
    timestamp = models.BigIntegerField(default=now_ms)
    text = models.TextField()
    username = models.CharField(max_length=100)
    color = models.CharField(max_length=7, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_type = models.CharField(max_length=8, choices=Type.choices, default=Type.HUMAN)
    # SET_NULL: pruning an old parent never takes a newer reply (or pending follow-up) with it.
    # Indexed in Meta.indexes (queue_reply_to), not here: see there.
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    priority = models.PositiveSmallIntegerField(default=0)
    entity = models.CharField(max_length=64, blank=True, help_text="The bot persona that should answer.")
    claimed_by = models.CharField(max_length=100, blank=True)
    #: The user whose worker holds the claim: the original clients complete by message id alone,
    #: so their completion is accepted from this user (project/original/comments.py).
    claimant = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Issued by each claim. On a reply: the claim that wrote it (completion is idempotent on it).
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: Not claimable before this (retry backoff).
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    #: While a bot streams its answer: the text so far, written at most every
    #: QUEUE_STREAM_INTERVAL_SECONDS (queue_app.services.stream_partials) so a socket that
    #: connects mid-answer, and embedded mode's dispatcher, read it from here. Never a reply:
    #: cleared by the completion (which writes the reply), a failure, a release or a requeue.
    partial_text = models.TextField(blank=True)
    partial_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["timestamp", "id"]
        permissions = [("work_queue", "Can claim and answer queue messages (a bot)")]
        indexes = [
            # Claims (queue_app.services._claim) and seed 002's GET /api/queue/pending: the best
            # pending first. The index holds the whole order (id last), so a claim of n reads n
            # entries in order; without id, PostgreSQL sorted every pending row per claim (and
            # under FOR UPDATE, on disk: 360 ms a claim at 60,000 pending).
            models.Index(
                fields=["-priority", "timestamp", "id"], name="queue_pending_claim_order", condition=Q(status="pending")
            ),
            # GET /api/queue/messages (and seed 002's ?since=) per stream, and prune_queue's ranking.
            models.Index(fields=["tenant", "timestamp"], name="queue_stream_since"),
            # requeue_expired (and the bot loop): processing claims whose lease ran out.
            models.Index(
                fields=["lease_expires_at"], name="queue_processing_lease", condition=Q(status="processing")
            ),
            # Embedded mode's dispatcher: partial answers written since its last look.
            models.Index(fields=["partial_at"], name="queue_streaming", condition=Q(status="processing")),
            # A message's replies. Here rather than db_index on the field: on PostgreSQL a field's
            # index on a varchar column comes with a second, `varchar_pattern_ops` one for LIKE,
            # which no query of ours makes, and every claim and completion updates its row in
            # every index of the table (the updates cannot be HOT). The primary key's own
            # pattern index is dropped by migration 0006 for the same reason.
            models.Index(fields=["reply_to"], name="queue_reply_to"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(priority__lte=10), name="queue_priority_0_10"),
        ]

    def __str__(self):
        return f"{self.id} ({self.message_type}, {self.status})"

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, UTC)

    def ancestors(self, depth: int | None = None) -> list["QueueMessage"]:
        """The messages this one replies to, oldest first (a bot's conversation context), up to
        `depth` (QUEUE_THREAD_DEPTH), with only what a prompt needs loaded. No query for a
        top-level message, nor for one whose thread `load_threads()` read with others."""
        depth = settings.QUEUE_THREAD_DEPTH if depth is None else depth
        if getattr(self, "_thread_depth", -1) < depth:
            load_threads([self], depth)
        return self._thread[max(0, len(self._thread) - depth):]

    @property
    def stream(self) -> str:
        return self.tenant_id or PUBLIC_STREAM

    @property
    def group(self) -> str:
        return stream_group(self.tenant_id)


def load_threads(messages: list[QueueMessage], depth: int | None = None) -> None:
    """Read the threads (`ancestors()`) of many messages at once, as claims of a batch need them:
    one query per level of the deepest thread (at most `depth`), none when every message is
    top-level, whatever the number of messages."""
    depth = settings.QUEUE_THREAD_DEPTH if depth is None else depth
    chains = {message.pk: [] for message in messages}
    tips = {message.pk: message.reply_to_id for message in messages}
    for _ in range(depth):
        wanted = {parent_id for parent_id in tips.values() if parent_id}
        if not wanted:
            break
        parents = QueueMessage.objects.filter(pk__in=wanted).only("id", "text", "username", "message_type", "reply_to")
        parents = {parent.pk: parent for parent in parents}
        for message_id, parent_id in tips.items():
            parent = parents.get(parent_id) if parent_id else None
            if parent is not None:
                chains[message_id].append(parent)
            tips[message_id] = parent.reply_to_id if parent is not None else None
    for message in messages:
        message._thread, message._thread_depth = list(reversed(chains[message.pk])), depth


def stream_group(tenant_id: str | None) -> str:
    return f"queue.{tenant_id}" if tenant_id else f"queue.{PUBLIC_STREAM}"


class TenantProvider(models.Model):
    """A tenant's own language-model provider for its stream (queue_app.tenant_providers): bots
    that run inside Harbor answer the tenant's messages with it. The API key is encrypted at
    rest with FIELD_ENCRYPTION_KEYS (subscriptions.crypto, rotated by `rotate_token_keys`) and
    never shown again after saving: only its last four characters."""

    class Name(models.TextChoices):
        OPENAI = "openai"
        ANTHROPIC = "anthropic"
        OLLAMA = "ollama"

    tenant = models.OneToOneField(Tenant, primary_key=True, on_delete=models.CASCADE, related_name="queue_provider")
    provider = models.CharField(max_length=16, choices=Name.choices)
    model = models.CharField(max_length=100)
    #: The SDK's base_url (with /v1 for OpenAI-compatible servers); empty: the provider's own.
    base_url = models.URLField(max_length=500, blank=True)
    api_key_encrypted = models.TextField(blank=True)
    api_key_last4 = models.CharField(max_length=4, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    def __str__(self):
        return f"{self.tenant_id}: {self.provider} {self.model}"

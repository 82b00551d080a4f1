import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from project.accounts.models import Tenant
from project.ids import new_public_id

PUBLIC_STREAM = "public"


def new_message_id() -> str:
    # Random, not a timestamp: ids must not reveal order or let anyone guess the next one.
    return new_public_id(10)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class QueueMessage(models.Model):
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
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="queue_messages",
        help_text="Empty for the public stream.",
    )
    #: Milliseconds since the epoch; the `since` cursor of GET /api/comments.
    timestamp = models.BigIntegerField(default=now_ms)
    text = models.TextField()
    username = models.CharField(max_length=100)
    color = models.CharField(max_length=7, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_type = models.CharField(max_length=8, choices=Type.choices, default=Type.HUMAN)
    # SET_NULL: pruning an old parent never takes a newer reply (or pending follow-up) with it.
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    priority = models.PositiveSmallIntegerField(default=0)
    entity = models.CharField(max_length=64, blank=True, help_text="The bot persona that should answer.")
    claimed_by = models.CharField(max_length=100, blank=True)
    #: Issued by each claim. On a reply: the claim that wrote it (completion is idempotent on it).
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: Not claimable before this (retry backoff).
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["timestamp", "id"]
        permissions = [("work_queue", "Can claim and answer queue messages (a bot)")]
        indexes = [
            # claim-next and GET /api/queue/pending: the best pending message first.
            models.Index(
                fields=["-priority", "timestamp"], name="queue_pending_order", condition=Q(status="pending")
            ),
            # GET /api/comments?since= per stream, and prune_queue's per-stream ranking.
            models.Index(fields=["tenant", "timestamp"], name="queue_stream_since"),
            # requeue_expired (and the bot loop): processing claims whose lease ran out.
            models.Index(
                fields=["lease_expires_at"], name="queue_processing_lease", condition=Q(status="processing")
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(priority__lte=10), name="queue_priority_0_10"),
        ]

    def __str__(self):
        return f"{self.id} ({self.message_type}, {self.status})"

    @property
    def stream(self) -> str:
        return self.tenant_id or PUBLIC_STREAM

    @property
    def group(self) -> str:
        return stream_group(self.tenant_id)


def stream_group(tenant_id: str | None) -> str:
    return f"queue.{tenant_id}" if tenant_id else f"queue.{PUBLIC_STREAM}"

"""Outgoing webhooks: a tenant's endpoints and the log of what was sent to them.

An endpoint follows its tenant's events in the event log (`realtime.Event`) with its own cursor,
so nothing is enqueued per event: `manage.py deliver_webhooks` sends what lies after the cursor,
in order, and moves the cursor on each 2xx. Written only by `services` and `delivery`."""

from django.db import models
from django.utils import timezone

from project.ids import new_public_id


class Endpoint(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        #: By its owners: nothing is sent, the cursor waits; resuming continues from it.
        PAUSED = "paused"
        #: By Harbor after failing for WEBHOOK_GIVE_UP_SECONDS (or a 410 Gone); resuming continues.
        DISABLED = "disabled"

    id = models.CharField(primary_key=True, max_length=16, default=new_public_id, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    #: Event types sent (of WEBHOOK_EVENT_TYPES, `custom.*` for the family); empty: all of them.
    event_types = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    #: `whsec_…`, encrypted with FIELD_ENCRYPTION_KEYS (subscriptions.crypto). Shown once.
    secret = models.TextField()
    #: The secret before the last rotation, still signing until `previous_secret_expires_at`.
    previous_secret = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    #: The id of the last event handled (sent, or skipped as not of its types).
    cursor = models.BigIntegerField(default=0)
    #: prune_events deleted events after the cursor while the endpoint was not active: its next
    #: delivery is a `replay.truncated` marker.
    events_pruned = models.BooleanField(default=False)

    #: deliver_webhooks takes endpoints whose next attempt is due (see the index), under a lease.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, default="")
    #: Failed attempts at the event after the cursor (0 once it went through).
    attempts = models.PositiveIntegerField(default=0)
    #: When the event after the cursor first failed; the give-up window counts from here.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_delivery_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            #: deliver_webhooks: active endpoints whose next attempt is due.
            models.Index(fields=["next_attempt_at"], name="webhook_endpoint_due",
                         condition=models.Q(status="active")),
        ]

    def __str__(self):
        return self.url

    @property
    def dependency(self) -> str:
        """The circuit breaker's name (project.resilience.breaker): one per endpoint."""
        return f"webhook.{self.pk}"


class Delivery(models.Model):
    """One attempt to send something to an endpoint, or a manual one waiting to be sent."""

    class Kind(models.TextChoices):
        EVENT = "event"  # an event after the cursor
        MARKER = "marker"  # replay.truncated: events were pruned while the endpoint was off
        TEST = "test"  # "Send test event"
        REDELIVERY = "redelivery"  # "Redeliver" of an earlier delivery

    class Status(models.TextChoices):
        PENDING = "pending"  # manual, waiting for deliver_webhooks
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    webhook_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=100)
    event_id = models.BigIntegerField(null=True, blank=True)
    #: The body, kept only for a manual delivery until it is sent (the log keeps no payloads).
    payload = models.JSONField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    #: The first WEBHOOK_RESPONSE_EXCERPT characters of the response body.
    response_excerpt = models.CharField(max_length=500, blank=True, default="")
    error = models.CharField(max_length=300, blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log"),
            #: deliver_webhooks: manual deliveries waiting.
            models.Index(fields=["endpoint", "id"], name="webhook_delivery_pending",
                         condition=models.Q(status="pending")),
            #: prune_webhook_deliveries deletes by age.
            models.Index(fields=["created_at"], name="webhook_delivery_age"),
        ]

    def __str__(self):
        return f"{self.kind} {self.webhook_id} → {self.endpoint_id}: {self.status}"

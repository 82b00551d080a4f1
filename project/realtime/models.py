from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class Event(models.Model):
    """The real-time event log. Its id is the cursor clients resume from; rows are written in
    the publisher's transaction, so an event exists exactly when the change it describes does."""

    group = models.CharField(max_length=100)
    type = models.CharField(max_length=100)
    data = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    #: The tenant an event of a tenant's group belongs to (its workflows, members, queue
    #: stream), set by `publish(..., tenant=)`; null for personal groups (a user's, a session's,
    #: a credential's) and the public queue stream. Outgoing webhooks follow it
    #: (project/webhooks): only events with a tenant, of `WEBHOOK_EVENT_TYPES`, leave Harbor.
    #: No database constraint: the log is append-only and pruned by age, and a deleted tenant's
    #: endpoints go with it.
    tenant = models.ForeignKey(
        "accounts.Tenant", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    #: prune_events deletes by age.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["group", "id"], name="event_group_cursor"),
            #: deliver_webhooks: a tenant's events after an endpoint's cursor.
            models.Index(fields=["tenant", "id"], name="event_tenant_cursor", condition=models.Q(tenant__isnull=False)),
        ]

    def __str__(self):
        return f"#{self.pk} {self.type} → {self.group}"

    def as_frame(self) -> dict:
        """The JSON a socket client receives."""
        return {"type": self.type, "group": self.group, "cursor": self.pk, "data": self.data}


class Presence(models.Model):
    """Who is connected to a group right now, across processes: one row per open socket,
    kept fresh by the socket's pings. Channels cannot list a group's members."""

    group = models.CharField(max_length=100, db_index=True)
    channel_name = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.user_id} in {self.group}"

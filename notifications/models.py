from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    """Every kind of notification. Other apps raise them by name through `services.notify()`;
    a user can turn each one off."""

    WORKFLOW_MENTION = "workflow.mention", "Mentioned in a workflow"
    WORKFLOW_PARTICIPANT_ADDED = "workflow.participant_added", "Added to a workflow"
    WORKFLOW_COMPLETED = "workflow.completed", "Workflow completed"
    WORKFLOW_DELETED = "workflow.deleted", "Workflow deleted"
    QUEUE_REPLY = "queue.reply", "A bot answered your message"
    SUBSCRIPTIONS_NEW_ITEMS = "subscriptions.new_items", "New items in your feed"
    SUBSCRIPTIONS_ACCOUNT_ERROR = "subscriptions.account_error", "A connected account needs attention"
    WEBHOOK_DISABLED = "webhooks.endpoint_disabled", "A webhook endpoint was disabled"


#: The kinds a person is emailed about when they have not seen them in the app
#: (notifications.digests); each can be turned off by email on its own.
EMAIL_KINDS = tuple(
    kind.value
    for kind in (Kind.WORKFLOW_MENTION, Kind.WORKFLOW_PARTICIPANT_ADDED, Kind.QUEUE_REPLY, Kind.SUBSCRIPTIONS_ACCOUNT_ERROR)
)


class EmailState(models.TextChoices):
    """Where a notification stands with the email digest (notifications.digests)."""

    NONE = "", "Not emailed (a kind never emailed, or raised before digests)"
    WAITING = "waiting", "Waiting for the person's next digest"
    EMAILED = "emailed", "Sent in a digest"
    SKIPPED = "skipped", "Not emailed: seen in the app, email turned off, or no address to mail"


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    tenant = models.ForeignKey("accounts.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=64, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    #: A path inside Harbor, e.g. the workflow page.
    link = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    #: Set by notify_many() for the EMAIL_KINDS; settled once by `send_digests`.
    email_state = models.CharField(max_length=16, choices=EmailState.choices, blank=True, default=EmailState.NONE)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_recipient_newest"),
            # The bell's unread count on every page, and check/clear.
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
            # prune_notifications deletes by age.
            models.Index(fields=["created_at"], name="notification_created"),
            # send_digests: what waits for a digest. Small: each row is settled (emailed or
            # skipped) by the first digest turn of its person after EMAIL_DIGEST_DELAY.
            models.Index(fields=["created_at"], condition=Q(email_state="waiting"), name="notification_email_waiting"),
        ]

    def __str__(self):
        return f"{self.kind} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """A kind the user turned off (or back on), in the app or by email; without a row every kind
    is on (by email: the EMAIL_KINDS)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=64, choices=Kind.choices)
    in_app = models.BooleanField(default=True)
    #: Email what the user missed of this kind (only the EMAIL_KINDS are ever emailed).
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique")]

    def __str__(self):
        return f"{self.user_id} {self.kind}: {'on' if self.in_app else 'off'}, email {'on' if self.email else 'off'}"


class DigestSchedule(models.Model):
    """When a person may get their next digest email: `send_digests` moves `next_digest_at` one
    EMAIL_DIGEST_PERIOD ahead, with a conditional UPDATE, in the transaction that writes the
    digest to the outbox; so two workers never send one person two digests in a period."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="digest_schedule"
    )
    next_digest_at = models.DateTimeField(default=timezone.now)
    last_digest_at = models.DateTimeField(null=True, blank=True)
    #: The Message-ID of the last digest (project.mail's outbox), to find it in the admin.
    last_message_id = models.CharField(max_length=255, blank=True, default="")

    def __str__(self):
        return f"digests of {self.user_id}: next at {self.next_digest_at:%Y-%m-%d %H:%M}"

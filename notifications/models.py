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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_recipient_newest"),
            # The bell's unread count on every page, and check/clear.
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
            # prune_notifications deletes by age.
            models.Index(fields=["created_at"], name="notification_created"),
        ]

    def __str__(self):
        return f"{self.kind} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """A kind the user turned off (or back on); without a row every kind is on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=64, choices=Kind.choices)
    in_app = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique")]

    def __str__(self):
        return f"{self.user_id} {self.kind}: {'on' if self.in_app else 'off'}"

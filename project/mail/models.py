from django.db import models
from django.utils import timezone


class OutgoingEmail(models.Model):
    """One email in the outbox: written by Django's mail API (project.mail.backends) inside the
    change's transaction, delivered by `manage.py send_email` (project.mail.delivery).

    The fields are what `EmailMultiAlternatives` needs to build the message again on every
    attempt, with the same Message-ID, so a receiver can tell a resent copy from a new mail."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Accepted by the mail server"
        FAILED = "failed", "Not sent (refused, or given up)"

    message_id = models.CharField(max_length=255, unique=True)
    from_email = models.CharField(max_length=320)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    bcc = models.JSONField(default=list)
    reply_to = models.JSONField(default=list)
    subject = models.TextField()
    body = models.TextField(blank=True)
    #: [[content, mimetype], ...]: the HTML part of a multipart message.
    alternatives = models.JSONField(default=list)
    #: Extra headers, the Message-ID among them.
    headers = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    #: A worker holds the message until then; another may take it after (the worker died).
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="mail_due")]
        verbose_name = "outgoing email"

    def __str__(self):
        return f"{self.subject} → {', '.join(self.recipients)}"

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]


class BouncedAddress(models.Model):
    """An address the mail server refused permanently (a 5xx for the recipient). Nothing more is
    sent to it; deleting the row in the admin lets mail go to it again."""

    email = models.EmailField(max_length=320, unique=True)
    reason = models.TextField()
    bounced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-bounced_at"]
        verbose_name_plural = "bounced addresses"

    def __str__(self):
        return self.email

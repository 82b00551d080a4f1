"""Connected provider accounts, what a user follows on them, what polling found, and when each
user is polled next. Every write goes through services.py (the poller's through poller.py)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from project.ids import new_public_id

from . import crypto


class ProviderAccount(models.Model):
    """One user's account at one provider, with its OAuth tokens encrypted at rest.

    The token columns hold Fernet ciphertext only; `access_token` / `refresh_token` decrypt on
    read. Neither the ciphertext nor the plaintext appears in repr, admin, API or logs."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        NEEDS_REAUTH = "needs_reauth"  # the refresh token was refused: the user must connect again
        DISABLED = "disabled"  # disconnected by the user

    id = models.CharField(primary_key=True, max_length=16, default=new_public_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_accounts")
    provider = models.CharField(max_length=32)
    external_id = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True, default="")
    scopes = models.TextField(blank=True, default="")
    access_token_encrypted = models.TextField(blank=True, default="")
    refresh_token_encrypted = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_refresh_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "provider", "external_id"], name="subs_one_account_per_identity")
        ]
        indexes = [
            # refresh_tokens: active accounts whose token expires soon.
            models.Index(fields=["expires_at"], condition=models.Q(status="active"), name="subs_account_expiry"),
        ]

    def __str__(self):
        return f"{self.provider}:{self.display_name or self.external_id}"

    def __repr__(self):
        return f"<ProviderAccount {self.pk} {self.provider} user={self.user_id} status={self.status}>"

    @property
    def access_token(self) -> str:
        return crypto.decrypt(self.access_token_encrypted)

    @property
    def refresh_token(self) -> str:
        return crypto.decrypt(self.refresh_token_encrypted)

    def set_tokens(self, access_token: str, refresh_token: str | None, expires_at) -> None:
        """Encrypt and assign (no save). A `refresh_token` of None keeps the current one:
        providers that do not rotate it leave it out of the refresh response."""
        self.access_token_encrypted = crypto.encrypt(access_token)
        if refresh_token is not None:
            self.refresh_token_encrypted = crypto.encrypt(refresh_token)
        self.expires_at = expires_at

    @property
    def token_state(self) -> str:
        """What admin and pages may say about the tokens: "missing", "expired" or "present"."""
        if not self.access_token_encrypted:
            return "missing"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "present"


class Subscription(models.Model):
    class Kind(models.TextChoices):
        SPOTIFY_SHOW = "spotify_show", "Spotify show"
        SPOTIFY_ARTIST = "spotify_artist", "Spotify artist"
        SPOTIFY_PLAYLIST = "spotify_playlist", "Spotify playlist"
        YOUTUBE_CHANNEL = "youtube_channel", "YouTube channel"
        YOUTUBE_PLAYLIST = "youtube_playlist", "YouTube playlist"

    id = models.CharField(primary_key=True, max_length=16, default=new_public_id, editable=False)
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="subscriptions")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    external_id = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True, default="")
    enabled = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    #: Provider-specific position for incremental polling (newest item seen, page token).
    cursor = models.CharField(max_length=255, blank=True, default="")
    #: The provider's ETag of the last answer; sent as If-None-Match, a 304 means nothing new.
    etag = models.CharField(max_length=255, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "external_id"], name="subs_one_subscription_per_target")
        ]

    def __str__(self):
        return self.title or f"{self.kind}:{self.external_id}"


class FeedItem(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="items")
    #: Denormalised from subscription.account.user: the feed is read per user, newest first.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=255)
    title = models.CharField(max_length=500, blank=True, default="")
    url = models.URLField(max_length=1000, blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            # Polling twice never stores an item twice (bulk inserts ignore the conflict).
            models.UniqueConstraint(fields=["subscription", "external_id"], name="subs_one_item_per_external_id")
        ]
        indexes = [models.Index(fields=["user", "-published_at", "-id"], name="subs_feed_by_user")]

    def __str__(self):
        return self.title or self.external_id


class PollSchedule(models.Model):
    """When one user is polled next, who is polling them now (the lease) and how it went.
    Claimed and released only by poller.py, with conditional UPDATEs."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="poll_schedule")
    next_poll_at = models.DateTimeField(default=timezone.now)
    interval_seconds = models.PositiveIntegerField(default=1800)
    #: The lease: a run owns this user until then; an expired lease is free to take.
    locked_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=100, blank=True, default="")
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_items_found = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    #: The per-user rate limit: provider calls made in the minute that started then.
    rate_window_started_at = models.DateTimeField(null=True, blank=True)
    rate_window_calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["next_poll_at"]
        indexes = [
            # poll_subscriptions: "who is due" scans next_poll_at in order.
            models.Index(fields=["next_poll_at"], name="subs_schedule_due"),
        ]

    def __str__(self):
        return f"poll schedule of user {self.user_id}"


class PollRun(models.Model):
    """Metrics of one poll_subscriptions run (or one --loop turn that found work)."""

    worker = models.CharField(max_length=100)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    users_polled = models.PositiveIntegerField(default=0)
    items_found = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    dry_run = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"poll run {self.pk} by {self.worker}"

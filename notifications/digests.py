"""Email for what a person missed: `manage.py send_digests` calls `send_due_digests()`.

A notification of one of the EMAIL_KINDS is raised `waiting` (notify_many()). Once it is
EMAIL_DIGEST_DELAY old, the next digest turn of its person settles it, exactly once:

- skipped when it was seen in the app (read; for a mention, the person's read cursor passed the
  message), no longer concerns them (they left the tenant or the workflow, the message was
  deleted, the account was reconnected), email is off for its kind, it is older than
  STALE_AFTER, or there is nobody to mail (an inactive user, an unverified or bounced address);
- otherwise emailed: every such item of the person, grouped by kind, in one multipart digest
  written to the outbox (project.mail), which `send_email` delivers.

At most one digest per person per EMAIL_DIGEST_PERIOD (DigestSchedule): what comes meanwhile
waits for the next one.

No lease is needed: the claim of the person's period (a conditional UPDATE), the items' new
state and the outbox row commit in one transaction that makes no network call, so a worker that
dies leaves nothing half done, and two workers on one person queue on the rows' locks
(PostgreSQL) or the write lock (SQLite): the second finds nothing waiting, or the period taken.

The rules of what counts as seen read other apps' rows (participants, messages, provider
accounts) by model name, not by import: notifications never imports the apps that raise them."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core import signing
from django.core.mail.message import make_msgid
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from project.accounts.models import Membership, User
from project.mail.models import BouncedAddress
from project.mail.services import send_templated

from . import services
from .models import EMAIL_KINDS, DigestSchedule, EmailState, Kind, Notification

logger = logging.getLogger(__name__)

#: People whose digests one turn builds.
BATCH_SIZE = 50
#: What waited longer than this is no longer news (a worker that was stopped for a week does not
#: mail a week of it).
STALE_AFTER = timedelta(days=7)
#: Characters of a notification's body quoted in the digest.
EXCERPT = 300

#: How each kind is headed in a digest, in the order of EMAIL_KINDS.
HEADINGS = {
    Kind.WORKFLOW_MENTION.value: "Mentions",
    Kind.WORKFLOW_PARTICIPANT_ADDED.value: "Added to a workflow",
    Kind.QUEUE_REPLY.value: "Replies to your messages",
    Kind.SUBSCRIPTIONS_ACCOUNT_ERROR.value: "Accounts to reconnect",
}
#: What an unsubscribe link for one kind turns off, in "Stop emails about …".
TOPICS = {
    Kind.WORKFLOW_MENTION.value: "mentions",
    Kind.WORKFLOW_PARTICIPANT_ADDED.value: "being added to workflows",
    Kind.QUEUE_REPLY.value: "replies to your queue messages",
    Kind.SUBSCRIPTIONS_ACCOUNT_ERROR.value: "accounts to reconnect",
}

# --- Unsubscribe links --------------------------------------------------------------------

#: An unsubscribe link's kind that stands for every digest.
ALL = "all"
UNSUBSCRIBE_SALT = "notifications.unsubscribe"
#: How long an unsubscribe link works: long after the mail was read (RFC 8058 asks that the
#: link keep working), not forever (a link leaked with an old mail expires).
UNSUBSCRIBE_MAX_AGE = timedelta(days=90)


class BadUnsubscribeLink(Exception):
    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "bad")
        self.expired = expired


def unsubscribe_token(user: User, kind: str = ALL) -> str:
    """A signed token naming the user and what to turn off (a kind, or ALL): the credential of
    the unsubscribe page, which works without signing in."""
    return signing.dumps({"u": user.pk, "k": kind}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(user: User, kind: str = ALL) -> str:
    return settings.SITE_URL + reverse("notification_unsubscribe", args=[unsubscribe_token(user, kind)])


def read_unsubscribe_token(token: str) -> tuple[User, str]:
    """(user, kind or ALL) of a token from unsubscribe_token(); BadUnsubscribeLink otherwise."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE)
    except signing.SignatureExpired:
        raise BadUnsubscribeLink(expired=True) from None
    except (signing.BadSignature, ValueError):
        raise BadUnsubscribeLink(expired=False) from None
    kind = data.get("k") if isinstance(data, dict) else None
    user = User.objects.filter(pk=data.get("u"), is_active=True).first() if isinstance(data, dict) else None
    if user is None or kind not in (ALL, *EMAIL_KINDS):
        raise BadUnsubscribeLink(expired=False)
    return user, kind


def unsubscribe(user: User, kind: str) -> dict[str, bool]:
    """Stop emailing `user` about `kind` (ALL: every digest). What already waits is skipped by
    the next turn, which reads the preferences again."""
    return services.set_email_preferences(user, {k: False for k in (EMAIL_KINDS if kind == ALL else [kind])})


# --- The worker ---------------------------------------------------------------------------


@dataclass
class DigestRun:
    digests: int = 0
    emailed: int = 0  # items in those digests
    skipped: int = 0
    failed: int = 0  # people whose turn raised (logged; their items wait for the next turn)
    people: int = 0  # people looked at

    def add(self, other: "DigestRun") -> None:
        for name in ("digests", "emailed", "skipped", "failed", "people"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        return (f"Sent {self.digests} digest{'' if self.digests == 1 else 's'} ({self.emailed} items), "
                f"skipped {self.skipped} items, {self.failed} failed.")


def send_due_digests(limit: int = BATCH_SIZE) -> DigestRun:
    """One turn: the digests of up to `limit` people with something waiting past the delay and
    whose period allows one. Each person in a transaction of their own."""
    run = DigestRun()
    now = timezone.now()
    for user_id in due_people(now, limit):
        run.people += 1
        try:
            _settle(user_id, now, run)
        except Exception:
            logger.exception("digest of user %s failed", user_id, extra={"user": user_id})
            run.failed += 1
    return run


def due_people(now, limit: int) -> list[int]:
    """Who has a notification waiting for longer than EMAIL_DIGEST_DELAY and may get a digest
    now (none in the current period). Reads the partial index of waiting notifications."""
    waiting = Notification.objects.filter(
        email_state=EmailState.WAITING, created_at__lte=now - settings.EMAIL_DIGEST_DELAY
    ).exclude(recipient__digest_schedule__next_digest_at__gt=now)
    return list(waiting.order_by("recipient_id").values_list("recipient_id", flat=True).distinct()[:limit])


def _settle(user_id: int, now, run: DigestRun) -> None:
    with transaction.atomic():
        # The lock keeps a concurrent mark_read() (and another worker) off these rows until the
        # digest that names them is in the outbox.
        items = list(
            Notification.objects.select_for_update()
            .filter(recipient_id=user_id, email_state=EmailState.WAITING, created_at__lte=now - settings.EMAIL_DIGEST_DELAY)
            .order_by("created_at", "id")
        )
        if not items:
            return  # another worker settled them
        user = User.objects.get(pk=user_id)
        unseen = _unseen(user, items, now)
        if unseen:
            message_id = make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)
            DigestSchedule.objects.bulk_create([DigestSchedule(user_id=user_id, next_digest_at=now)], ignore_conflicts=True)
            claimed = DigestSchedule.objects.filter(user_id=user_id, next_digest_at__lte=now).update(
                next_digest_at=now + settings.EMAIL_DIGEST_PERIOD, last_digest_at=now, last_message_id=message_id
            )
            if not claimed:
                return  # another worker sent this person's digest of this period: all of it waits
            _write_digest(user, unseen, message_id)
            Notification.objects.filter(pk__in=[n.pk for n in unseen]).update(email_state=EmailState.EMAILED, emailed_at=now)
            run.digests += 1
            run.emailed += len(unseen)
        chosen = {n.pk for n in unseen}
        if skipped := [n.pk for n in items if n.pk not in chosen]:
            Notification.objects.filter(pk__in=skipped).update(email_state=EmailState.SKIPPED)
            run.skipped += len(skipped)


def _unseen(user: User, items: list[Notification], now) -> list[Notification]:
    """The items to email: not seen in the app, still the person's concern, their kind emailed."""
    if not user.is_active or user.email_verified_at is None:
        # Unverified: whoever typed this address at sign-up may not own it, and a digest quotes
        # workflow messages. Verification (or an accepted invitation) starts the digests.
        return []
    if BouncedAddress.objects.filter(email=user.email.lower()).exists():
        return []
    emailed = services.emailed_kinds(user)
    member_of = set(Membership.objects.filter(user=user).values_list("tenant_id", flat=True))
    workflow_ids = {n.payload.get("workflow_id") for n in items
                    if n.kind in (Kind.WORKFLOW_MENTION, Kind.WORKFLOW_PARTICIPANT_ADDED)}
    cursors = dict(
        apps.get_model("workflows", "Participant").objects
        .filter(user=user, workflow_id__in=workflow_ids, workflow__deleted_at__isnull=True)
        .values_list("workflow_id", "last_read_message_id")
    ) if workflow_ids else {}
    mentioned = {_int(n.payload.get("message_id")) for n in items if n.kind == Kind.WORKFLOW_MENTION}
    live_messages = set(
        apps.get_model("workflows", "Message").objects
        .filter(pk__in=mentioned - {None}, deleted_at__isnull=True).values_list("pk", flat=True)
    ) if mentioned else set()
    accounts = {n.payload.get("account") for n in items if n.kind == Kind.SUBSCRIPTIONS_ACCOUNT_ERROR}
    still_broken = set(
        apps.get_model("subscriptions", "ProviderAccount").objects
        .filter(user=user, pk__in=accounts - {None}, status="needs_reauth").values_list("pk", flat=True)
    ) if accounts else set()

    def unseen(n: Notification) -> bool:
        if n.read_at is not None or not emailed.get(n.kind) or n.created_at < now - STALE_AFTER:
            return False
        if n.tenant_id and n.tenant_id not in member_of:
            return False
        if n.kind in (Kind.WORKFLOW_MENTION, Kind.WORKFLOW_PARTICIPANT_ADDED):
            cursor = cursors.get(n.payload.get("workflow_id"))
            if cursor is None:  # no longer a participant, or the workflow is gone
                return False
            if n.kind == Kind.WORKFLOW_MENTION:
                message = _int(n.payload.get("message_id"))
                # Seen in the app: the read cursor passed the message that mentions them.
                return message in live_messages and cursor < message
        if n.kind == Kind.SUBSCRIPTIONS_ACCOUNT_ERROR:
            return n.payload.get("account") in still_broken
        return True

    return [n for n in items if unseen(n)]


def _write_digest(user: User, items: list[Notification], message_id: str) -> None:
    """The digest in the outbox: items grouped by kind, with links into Harbor and one-click
    unsubscribe headers (RFC 8058; the mail server's DKIM signature should cover them)."""
    groups = []
    for kind in EMAIL_KINDS:
        of_kind = [n for n in items if n.kind == kind]
        if of_kind:
            groups.append({
                "heading": HEADINGS[kind],
                "items": [_item(n) for n in of_kind],
                "stop_url": unsubscribe_url(user, kind),
                "stop_label": f"Stop emails about {TOPICS[kind]}",
            })
    everything = unsubscribe_url(user)
    send_templated(
        user.email,
        "digest",
        {
            "user": user,
            "items": items,
            "count": len(items),
            "groups": groups,
            "delay": humane(settings.EMAIL_DIGEST_DELAY),
            "notifications_url": settings.SITE_URL + reverse("notification_list"),
            "preferences_url": settings.SITE_URL + reverse("notification_preferences"),
            "unsubscribe_url": everything,
            "site_name": settings.SITE_URL.split("://", 1)[-1],
        },
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{everything}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # RFC 3834: no vacation auto-replies to a digest.
            "Auto-Submitted": "auto-generated",
        },
    )


def _item(n: Notification) -> dict:
    body = " ".join(n.body.split())
    return {
        "title": n.title,
        "excerpt": body if len(body) <= EXCERPT else body[: EXCERPT - 1] + "…",
        "url": settings.SITE_URL + (n.link or reverse("notification_list")),
        "created_at": n.created_at,
    }


def humane(duration: timedelta) -> str:
    """"15 minutes", "1 hour", "2 days": the largest unit that divides the duration."""
    seconds = int(duration.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _int(value) -> int | None:
    text = "" if value is None else str(value)
    return int(text) if text.isascii() and text.isdecimal() and len(text) < 19 else None

"""Notifications: `notify()` is the one way to raise them, from any app or process.

Rows are stored in bulk and each recipient's user group gets a ``notification.created`` event
through the real-time event log, so a notification raised by a worker or a cron command reaches
the browser too. Reading or clearing sends ``notification.count`` so every open tab of the user
shows the same unread count. This module never imports the apps that call it."""

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from project.accounts.models import Tenant, User, user_group
from project.batches import delete_in_batches
from project.realtime.services import publish, publish_many

from .models import Kind, Notification, Preference

TITLE_MAX_LENGTH = Notification._meta.get_field("title").max_length
BODY_MAX_LENGTH = 1000


def notify(
    recipients: Iterable[User],
    kind: str,
    *,
    title: str,
    body: str = "",
    link: str = "",
    payload: dict | None = None,
    tenant: Tenant | None = None,
    actor: User | None = None,
) -> list[Notification]:
    """Notify each recipient once, except `actor` (nobody is notified of their own action) and
    those who turned `kind` off. Call inside the change's transaction: a rolled-back change
    notifies nobody."""
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    if link and not (link.startswith("/") and not link.startswith("//")):
        raise ValueError(f"A notification links to a path inside Harbor, not {link!r}")
    recipient_ids = {user.pk for user in recipients if user.is_active} - {actor.pk if actor else None}
    if not recipient_ids:
        return []
    muted = set(
        Preference.objects.filter(user_id__in=recipient_ids, kind=kind, in_app=False).values_list("user_id", flat=True)
    )
    now = timezone.now()
    rows = [
        Notification(
            recipient_id=user_id,
            tenant=tenant,
            kind=kind,
            title=_excerpt(title, TITLE_MAX_LENGTH),
            body=_excerpt(body, BODY_MAX_LENGTH),
            link=link,
            payload=payload or {},
            created_at=now,
        )
        for user_id in sorted(recipient_ids - muted)
    ]
    if not rows:
        return []
    with transaction.atomic():
        Notification.objects.bulk_create(rows)
        counts = unread_counts([row.recipient_id for row in rows])
        publish_many(
            [
                (user_group(row.recipient_id), "notification.created", {"notification": notification_data(row), "unread": counts[row.recipient_id]})
                for row in rows
            ]
        )
    return rows


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def unread_counts(user_ids: list[int]) -> dict[int, int]:
    found = dict(
        Notification.objects.filter(recipient_id__in=user_ids, read_at__isnull=True)
        .values_list("recipient_id")
        .annotate(unread=Count("id"))
        .values_list("recipient_id", "unread")
    )
    return {user_id: found.get(user_id, 0) for user_id in user_ids}


def mark_read(user: User, ids: Iterable[int] | None = None) -> tuple[int, int]:
    """Mark the user's unread notifications read, all of them or those among `ids` (other
    users' ids match nothing). Returns (how many changed, the new unread count) and tells the
    user's open tabs the new count."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    with transaction.atomic():
        changed = unread.update(read_at=timezone.now())
        count = unread_count(user)
        if changed:
            publish(user.group, "notification.count", {"unread": count})
    return changed, count


def latest(user: User, limit: int) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user).select_related("tenant")[:limit])


def enabled_kinds(user: User) -> dict[str, bool]:
    """Every kind with whether the user receives it."""
    off = set(Preference.objects.filter(user=user, in_app=False).values_list("kind", flat=True))
    return {kind: kind not in off for kind in Kind.values}


def set_preferences(user: User, choices: dict[str, bool]) -> dict[str, bool]:
    """Turn kinds on or off; kinds not in `choices` keep their setting."""
    unknown = sorted(set(choices) - set(Kind.values))
    if unknown:
        raise ValueError(f"Unknown notification kinds: {', '.join(unknown)}")
    with transaction.atomic():
        for kind, in_app in choices.items():
            Preference.objects.update_or_create(user=user, kind=kind, defaults={"in_app": in_app})
    return enabled_kinds(user)


def prune(older_than: timedelta, *, dry_run: bool = False) -> dict[str, int]:
    """Delete notifications created more than `older_than` ago, read ones first, in batches.
    Returns how many were (or would be) removed, read and unread."""
    old = Notification.objects.filter(created_at__lt=timezone.now() - older_than)
    removed = {}
    for label, unread in (("read", False), ("unread", True)):
        matching = old.filter(read_at__isnull=unread)
        removed[label] = matching.count() if dry_run else delete_in_batches(matching)
    return removed


def notification_data(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "link": notification.link,
        "payload": notification.payload,
        "tenant_id": notification.tenant_id,
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


def _excerpt(text: str, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"

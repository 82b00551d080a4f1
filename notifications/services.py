"""Notifications: `notify()` is the one way to raise them, from any app or process.

Rows are stored in bulk and each recipient's user group gets a ``notification.created`` event
through the real-time event log, so a notification raised by a worker or a cron command reaches
the browser too. Reading or clearing sends ``notification_count.changed`` so every open tab of
the user shows the same unread count. This module never imports the apps that call it."""

from collections.abc import Iterable
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from project.accounts.models import User, user_group
from project.batches import delete_in_batches
from project.realtime.services import publish, publish_many

from .models import Kind, Notification, Preference
from .serializers import NotificationSerializer

TITLE_MAX_LENGTH = Notification._meta.get_field("title").max_length
BODY_MAX_LENGTH = 1000


def notify(
    recipients: Iterable[User] | QuerySet,
    kind: str,
    *,
    title: str,
    body: str = "",
    link: str = "",
    payload: dict | None = None,
    tenant_id: str | None = None,
    actor: User | None = None,
) -> list[Notification]:
    """Notify each recipient once, except `actor` (nobody is notified of their own action),
    inactive users and those who turned `kind` off. Call inside the change's transaction: a
    rolled-back change notifies nobody. `recipients` may be a queryset of users, which is then
    read as a subquery. Three queries, whatever the number of recipients: who gets it (with their
    unread count), the notifications, their events."""
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    if link and not (link.startswith("/") and not link.startswith("//")):
        raise ValueError(f"A notification links to a path inside Harbor, not {link!r}")
    targets = _targets(recipients, kind, actor)
    if not targets:
        return []
    now = timezone.now()
    rows = [
        Notification(
            recipient_id=user_id,
            tenant_id=tenant_id,
            kind=kind,
            title=_excerpt(title, TITLE_MAX_LENGTH),
            body=_excerpt(body, BODY_MAX_LENGTH),
            link=link,
            payload=payload or {},
            created_at=now,
        )
        for user_id, _ in targets
    ]
    # No savepoint of our own inside the caller's transaction: it is a round trip on the hot
    # paths (a queue completion), and any error here rolls the whole change back anyway.
    with transaction.atomic(savepoint=False):
        Notification.objects.bulk_create(rows)
        shapes = NotificationSerializer(rows, many=True).data
        publish_many(
            [
                (user_group(row.recipient_id), "notification.created", {"notification": shape, "unread": (before or 0) + 1})
                for row, shape, (_, before) in zip(rows, shapes, targets)
            ]
        )
    return rows


def _targets(recipients: Iterable[User] | QuerySet, kind: str, actor: User | None) -> list[tuple[int, int]]:
    """(user id, unread count so far) of the recipients who get a `kind` notification: active,
    not the actor, not muted. One query, written out: notify() is on hot paths (every queue
    reply) and the equivalent ORM expression cost more to build than to run."""
    if isinstance(recipients, QuerySet):
        ids_sql, ids_params = recipients.values("pk").query.sql_with_params()
    else:
        ids_params = sorted({user.pk for user in recipients})
        ids_sql = ", ".join(["%s"] * len(ids_params))
        if not ids_params:
            return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT u.id, (SELECT COUNT(*) FROM {Notification._meta.db_table} n
                          WHERE n.recipient_id = u.id AND n.read_at IS NULL)
            FROM {User._meta.db_table} u
            WHERE u.id IN ({ids_sql}) AND u.is_active AND u.id <> %s
              AND NOT EXISTS (SELECT 1 FROM {Preference._meta.db_table} p
                              WHERE p.user_id = u.id AND p.kind = %s AND NOT p.in_app)
            ORDER BY u.id
            """,
            [*ids_params, actor.pk if actor else 0, kind],
        )
        return cursor.fetchall()


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


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
            publish(user.group, "notification_count.changed", {"unread": count})
    return changed, count


def delete(user: User, ids: Iterable[int] | None = None) -> int:
    """Delete the user's notifications among `ids` (other users' ids match nothing), or without
    `ids` every one already read. Returns how many went; the user's tabs hear the unread count
    whenever any went."""
    chosen = Notification.objects.filter(recipient=user)
    chosen = chosen.filter(pk__in=list(ids)) if ids is not None else chosen.filter(read_at__isnull=False)
    with transaction.atomic():
        deleted, _ = chosen.delete()
        count = unread_count(user)
        # Also when only read ones went: the event is what tells a polled list it changed
        # (project.realtime.versions).
        if deleted:
            publish(user.group, "notification_count.changed", {"unread": count})
    return deleted


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


def _excerpt(text: str, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"

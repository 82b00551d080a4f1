"""Notifications: `notify_many()` (and `notify()`, its one-content form) is the one way to raise them, from any app or process.

Rows are stored in bulk and each recipient's user group gets a ``notification.created`` event
through the real-time event log, so a notification raised by a worker or a cron command reaches
the browser too. Reading or clearing sends ``notification_count.changed`` so every open tab of
the user shows the same unread count. This module never imports the apps that call it."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from project.accounts.models import User, user_group
from project.batches import delete_in_batches
from project.realtime.services import publish, publish_many
from project.sql import bulk_insert, new_row, prepared_cursor

from .models import EMAIL_KINDS, EmailState, Kind, Notification, Preference
from .serializers import notification_data

TITLE_MAX_LENGTH = Notification._meta.get_field("title").max_length
KINDS = frozenset(Kind.values)
BODY_MAX_LENGTH = 1000


@dataclass(frozen=True)
class NewNotification:
    """One notification to raise with `notify_many()`: `recipient` (a user or a user id) is told
    of `actor`'s change, unless they are the actor, inactive or turned `kind` off. `recipient`
    may also be a queryset of users: the same notification to each of them, read as a subquery
    of notify_many()'s one query for its targets."""

    recipient: User | int | QuerySet
    kind: str
    title: str
    body: str = ""
    link: str = ""
    payload: dict | None = None
    tenant_id: str | None = None
    actor: User | None = None


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
    """Notify each recipient once: `notify_many()` of one notification per distinct recipient
    (a queryset of users is one notification read as a subquery)."""
    if isinstance(recipients, QuerySet):
        addressed = [recipients]
    else:
        addressed = sorted({user if isinstance(user, int) else user.pk for user in recipients})
    return notify_many([NewNotification(to, kind, title, body, link, payload, tenant_id, actor) for to in addressed])


def notify_many(notifications: Sequence[NewNotification], *, publishing: Sequence[tuple] = ()) -> list[Notification]:
    """Raise every notification in `notifications` (of any kinds, recipients and actors), except
    to its actor (nobody is notified of their own action), to inactive users and to those who
    turned its kind off. Returns the stored rows, in the order given. Call inside the change's
    transaction: a rolled-back change notifies nobody. Three queries, whatever the number of
    notifications: who gets which kind (with their unread count), the notifications, their
    events. `publishing` is the change's own events (`publish_many`'s tuples), inserted after the
    notifications' in the same statement: a queue completion's events and its authors'
    notifications cost one insert into the log, not two."""
    for note in notifications:
        if note.kind not in KINDS:
            raise ValueError(f"Unknown notification kind {note.kind!r}")
        if note.link and not (note.link.startswith("/") and not note.link.startswith("//")):
            raise ValueError(f"A notification links to a path inside Harbor, not {note.link!r}")
    targets = _targets(notifications)
    now = timezone.now()
    chosen = []
    for index, note in enumerate(notifications):
        if isinstance(note.recipient, QuerySet):
            recipient_ids = [user_id for user_id, target in targets.items() if index in target["among"]]
        else:
            recipient_ids = [note.recipient if isinstance(note.recipient, int) else note.recipient.pk]
        for recipient_id in recipient_ids:
            target = targets.get(recipient_id)
            if target is None or note.kind in target["muted"] or (note.actor and note.actor.pk == recipient_id):
                continue
            target["unread"] += 1
            row = new_row(
                Notification,
                recipient_id=recipient_id,
                tenant_id=note.tenant_id,
                kind=note.kind,
                title=_excerpt(note.title, TITLE_MAX_LENGTH),
                body=_excerpt(note.body, BODY_MAX_LENGTH),
                link=note.link,
                payload=note.payload or {},
                created_at=now,
                # Whether it is mailed is settled by `send_digests` after EMAIL_DIGEST_DELAY
                # (notifications.digests): nothing more to look up here, on the hot path.
                email_state=EmailState.WAITING if note.kind in EMAIL_KINDS else EmailState.NONE,
            )
            chosen.append((row, target["unread"]))
    rows = [row for row, _ in chosen]
    if not rows and not publishing:
        return []
    # No savepoint of our own inside the caller's transaction: it is a round trip on the hot
    # paths (a queue completion), and any error here rolls the whole change back anyway.
    with transaction.atomic(savepoint=False):
        bulk_insert(rows)
        publish_many(
            [
                (user_group(row.recipient_id), "notification.created", {"notification": notification_data(row), "unread": unread})
                for row, unread in chosen
            ]
            + list(publishing)
        )
    return rows


def _targets(notifications: Sequence[NewNotification]) -> dict[int, dict]:
    """Every active user the notifications address, ordered by id, with their unread count so
    far, the notifications' kinds they turned off and which queryset recipients (by index in
    `notifications`) they are among. One query, written out: notify_many() is on hot paths (every
    queue reply) and the equivalent ORM expression cost more to build than to run. One column
    per kind and per queryset: a batch holds a handful of them at most."""
    ids = sorted(
        {note.recipient if isinstance(note.recipient, int) else note.recipient.pk
         for note in notifications if not isinstance(note.recipient, QuerySet)}
    )
    subqueries = [
        (index, *note.recipient.values("pk").query.sql_with_params())
        for index, note in enumerate(notifications)
        if isinstance(note.recipient, QuerySet)
    ]
    if not ids and not subqueries:
        return {}
    kinds = sorted({note.kind for note in notifications})
    muted_columns = [
        f"EXISTS (SELECT 1 FROM {Preference._meta.db_table} p WHERE p.user_id = u.id AND p.kind = %s AND NOT p.in_app)"
        for _ in kinds
    ]
    among_columns = [f"u.id IN ({sql})" for _, sql, _ in subqueries]
    addressed = [f"u.id IN ({', '.join(['%s'] * len(ids))})"] if ids else []
    with prepared_cursor() as cursor:
        cursor.execute(
            f"""
            SELECT u.id, (SELECT COUNT(*) FROM {Notification._meta.db_table} n
                          WHERE n.recipient_id = u.id AND n.read_at IS NULL),
                   {", ".join([*muted_columns, *among_columns])}
            FROM {User._meta.db_table} u
            WHERE u.is_active AND ({" OR ".join(addressed + among_columns)})
            ORDER BY u.id
            """,
            [*kinds, *(p for _, _, params in subqueries for p in params), *ids,
             *(p for _, _, params in subqueries for p in params)],
        )
        targets = {}
        for user_id, unread, *flags in cursor.fetchall():
            muted, among = flags[: len(kinds)], flags[len(kinds):]
            targets[user_id] = {
                "unread": unread or 0,
                "muted": {kind for kind, off in zip(kinds, muted) if off},
                "among": {index for (index, _, _), member in zip(subqueries, among) if member},
            }
        return targets


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


def mark_workflow_read(user: User, workflow_id: int) -> int:
    """Reading a workflow reads what the bell said about it (a mention, being added, its
    completion), as opening a channel does in Slack. Returns how many changed."""
    about = Notification.objects.filter(recipient=user, read_at__isnull=True, payload__workflow_id=workflow_id)
    ids = list(about.values_list("pk", flat=True))
    return mark_read(user, ids)[0] if ids else 0


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


def emailed_kinds(user: User) -> dict[str, bool]:
    """Every kind that can be emailed (EMAIL_KINDS) with whether the user gets it by email."""
    off = set(Preference.objects.filter(user=user, email=False).values_list("kind", flat=True))
    return {kind: kind not in off for kind in EMAIL_KINDS}


def set_email_preferences(user: User, choices: dict[str, bool]) -> dict[str, bool]:
    """Turn the email of kinds on or off; kinds not in `choices` keep their setting. Only the
    EMAIL_KINDS are ever emailed: another kind is a ValueError."""
    unknown = sorted(set(choices) - set(EMAIL_KINDS))
    if unknown:
        raise ValueError(f"Kinds that are never emailed: {', '.join(unknown)}")
    with transaction.atomic():
        for kind, email in choices.items():
            Preference.objects.update_or_create(user=user, kind=kind, defaults={"email": email})
    return emailed_kinds(user)


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

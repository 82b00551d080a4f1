"""Every write to the queue goes through here, and every write publishes its real-time event to
the stream's group in the same transaction.

Claims never check-then-act: a claim is `UPDATE … WHERE id=… AND status='pending'` and its row
count decides who won. On PostgreSQL the candidate is picked with `SELECT … FOR UPDATE SKIP
LOCKED`, so concurrent workers take different rows instead of queueing on one; SQLite ignores
that clause, but our IMMEDIATE transactions serialise writers and the conditional update still
decides. No lock is held across an HTTP or a provider call: each function is one short
transaction.

These are plain synchronous functions of simple arguments (ids, strings, numbers) that return
models, so Harbor's API, the original clients' routes (project/original/), the bot engine and the
admin share them, and async views can call them via sync_to_async. They know no wire format:
errors are keyed by model field, and the one JSON shape of a message (for the events they
publish) is queue_app.serializers.message_data.
"""

import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from notifications.models import Kind
from notifications.services import NewNotification, notify_many
from project.accounts.models import Membership, Tenant, User
from project.accounts.services import Conflict
from project.realtime.services import publish_many
from project.sql import Columns, bulk_insert, new_row, prepared_cursor
from project.workers.services import list_workers

from .models import BOT_HEARTBEAT, COLOR, ENTITY, MAX_BATCH, MAX_PRIORITY, WORKER_ID, QueueMessage, load_threads, now_ms, stream_group
from .serializers import message_data

TABLE = QueueMessage._meta.db_table
#: The rows a claim or a completion hands back, read without Model.__init__ (project/sql.py).
_COLUMNS = Columns(QueueMessage, TABLE)

logger = logging.getLogger(__name__)

Status = QueueMessage.Status
Type = QueueMessage.Type

PRUNE_BATCH_SIZE = 500
REQUEUE_BATCH_SIZE = 500
ERROR_MAX = 2000


class NotFound(QueueMessage.DoesNotExist):
    pass


# --- Who may do what ------------------------------------------------------------------------

#: The permission that makes a user a bot (queue_app.models.QueueMessage.Meta.permissions).
WORK_QUEUE = "queue_app.work_queue"


def is_bot(user: User) -> bool:
    """Bots hold the `queue_app.work_queue` permission, given in admin to the user or to a group
    (e.g. "Bots"); staff may always work the queue. It runs on every claim and completion: the
    token statement already read a token-authenticated user's permissions
    (project.accounts.access.usable_token), so `has_perm` reads no row there."""
    return user.is_active and (user.is_staff or user.has_perm(WORK_QUEUE))


def _name_key(name: str) -> str:
    """How two names are compared for impersonation: compatibility-normalised, case-folded,
    letters and digits only, so "Harbor-Bot", "harbor bot" and "Ｈarbor bot" are one name."""
    return "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if c.isalnum())


def reserved_names() -> dict[str, str]:
    """The names bots post under, which humans may not use: QUEUE_BOT_NAME (a reply's default
    name), the configured personas (a reply's name is its entity), and every active bot user's
    display name. {comparison key: the name as shown}. Bots are few: one query."""
    from django.contrib.auth.models import Permission

    names = [settings.QUEUE_BOT_NAME, *settings.QUEUE_PERSONAS]
    permission = Permission.objects.filter(codename="work_queue", content_type__app_label="queue_app")
    bots = User.objects.filter(Q(user_permissions__in=permission) | Q(groups__permissions__in=permission), is_active=True)
    names += [bot.get_short_name() for bot in bots.distinct().only("display_name", "email")]
    return {_name_key(name): name for name in names if _name_key(name)}


def _check_name_not_reserved(user: User, username: str) -> None:
    """A human may not post under a bot's name; bots (and staff, who may work the queue) may."""
    key = _name_key(username)
    if key and key in reserved_names() and not is_bot(user):
        raise ValidationError({"username": f"“{username}” is a bot's name; choose another name to post under."})


def make_bot(user: User) -> User:
    """Grant `user` the bot permission (what an admin does in the user's admin page)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="work_queue", content_type__app_label="queue_app"))
    return user


def stream_tenant(user: User, tenant_id: str | None) -> Tenant | None:
    """The tenant of the stream `user` names (None: the public stream). Any signed-in user reads
    and writes the public stream; a tenant's stream is for its members (404 otherwise)."""
    if not tenant_id:
        return None
    membership = Membership.objects.select_related("tenant").filter(user=user, tenant_id=tenant_id).first()
    if membership is None:
        raise NotFound("No such tenant.")
    return membership.tenant


# --- Events ---------------------------------------------------------------------------------

def _event(message: QueueMessage, event_type: str, reply: QueueMessage | None = None) -> tuple[str, str, dict, str | None]:
    """An event's data is `{"message"}` (and `"reply"` for queue_message.answered), each in the one
    shape of a message, without the claim token, which is only for the claimant."""
    data = {"message": message_data(message)}
    if reply is not None:
        data["reply"] = message_data(reply)
    return message.group, event_type, data, message.tenant_id  # the public stream has none


def _publish(message: QueueMessage, event_type: str) -> None:
    publish_many([_event(message, event_type)])


# --- Validation -----------------------------------------------------------------------------

def _clean_text(text, field="text") -> str:
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise ValidationError({field: "A message cannot be empty."})
    if len(text) > settings.QUEUE_MESSAGE_MAX_LENGTH:
        raise ValidationError({field: f"Messages are limited to {settings.QUEUE_MESSAGE_MAX_LENGTH} characters."})
    return text


def _clean_lease(lease_seconds) -> timedelta:
    if lease_seconds is None:
        return timedelta(seconds=settings.QUEUE_LEASE_SECONDS)
    if not 0 < lease_seconds <= settings.QUEUE_MAX_LEASE_SECONDS:
        raise ValidationError(
            {"lease_expires_at": f"A lease lasts more than 0 and at most {settings.QUEUE_MAX_LEASE_SECONDS:g} seconds."}
        )
    return timedelta(seconds=lease_seconds)


def _clean_worker(worker_id) -> str:
    if not isinstance(worker_id, str) or not WORKER_ID.match(worker_id):
        raise ValidationError({"claimed_by": "1-100 characters of letters, digits and . _ : @ -"})
    return worker_id


# --- Writing messages -----------------------------------------------------------------------

def post_message(
    user: User,
    text: str,
    *,
    username: str = "",
    color: str = "",
    tenant_id: str | None = None,
    priority: int = 0,
    entity: str = "",
    reply_to: str | None = None,
    message_type: str = Type.HUMAN,
    message_id: str | None = None,
    timestamp: int | None = None,
    claimed_by: str = "",
    claimed_at: datetime | None = None,
    completed_at: datetime | None = None,
) -> QueueMessage:
    """A new message in a stream. Human messages wait (pending) for a bot; `ai` messages, which
    only bots and staff may post, are born complete. `message_id` and `timestamp` are Harbor's
    to choose unless a client (the original ones) brings its own: a taken id is a Conflict.
    An `ai` message a bot posts itself (seed 002's bot does) may say which worker wrote it and
    when (`claimed_by`, `claimed_at`, `completed_at`); a human message starts unclaimed."""
    text = _clean_text(text)
    username = (username or user.get_short_name()).strip()[:100]
    errors = {}
    if color and not COLOR.match(color):
        errors["color"] = "A color is #rrggbb."
    if not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        errors["priority"] = f"Priority is 0-{MAX_PRIORITY}."
    if entity and not ENTITY.match(entity):
        errors["entity"] = "Lower-case letters, digits, - and _, up to 64."
    if message_type not in Type.values:
        errors["message_type"] = "human or ai."
    if timestamp is not None and (not isinstance(timestamp, int) or timestamp < 0):
        errors["timestamp"] = "Milliseconds since the epoch."
    if claimed_by and not WORKER_ID.match(claimed_by):
        errors["claimed_by"] = "1-100 characters of letters, digits and . _ : @ -"
    if message_type != Type.AI:
        for name, value in (("claimed_by", claimed_by), ("claimed_at", claimed_at), ("completed_at", completed_at)):
            if value:
                errors[name] = "A new human message is unclaimed: its claims set this."
    if errors:
        raise ValidationError(errors)
    if message_type == Type.AI and not is_bot(user):
        raise PermissionDenied("Only bots and staff post ai messages.")
    if message_type == Type.HUMAN:
        _check_name_not_reserved(user, username)
    tenant = stream_tenant(user, tenant_id)
    parent = None
    if reply_to:
        parent = QueueMessage.objects.filter(pk=reply_to, tenant=tenant).only("id", "tenant_id", "author_id").first()
        if parent is None:
            raise ValidationError({"reply_to": "No such message in this stream."})
    now = timezone.now()
    chosen = {"id": message_id} if message_id else {}
    if timestamp is not None:
        chosen["timestamp"] = timestamp
    try:
        with transaction.atomic():
            message = QueueMessage.objects.create(
                **chosen,
                tenant=tenant,
                text=text,
                username=username,
                color=color,
                author=user,
                message_type=message_type,
                reply_to=parent,
                priority=priority,
                entity=entity,
                status=Status.COMPLETE if message_type == Type.AI else Status.PENDING,
                claimed_by=claimed_by,
                claimed_at=claimed_at,
                completed_at=(completed_at or now) if message_type == Type.AI else None,
                available_at=now,
            )
            _publish(message, "queue_message.created")
            if parent is not None and message_type == Type.AI and parent.author_id:  # a bot answering as seed 002's does
                notify_many([_reply_notification(parent, message)])
    except IntegrityError:
        if message_id:  # the only unique value a caller chooses
            raise Conflict("A message with this id exists.") from None
        raise
    return message


def list_messages(tenant: Tenant | None, since: int | None = None, limit: int = 50) -> list[QueueMessage]:
    """A stream's messages newer than `since` (ms), oldest first; without `since`, the latest
    `limit` (still oldest first)."""
    messages = QueueMessage.objects.filter(tenant=tenant)
    if since is not None:
        return list(messages.filter(timestamp__gt=since).order_by("timestamp", "id")[:limit])
    return list(reversed(messages.order_by("-timestamp", "-id")[:limit]))


def stream(tenant: Tenant | None, *, status: str | None = None, entity: str | None = None):
    """A stream's messages (a queryset the API pages through), optionally of one status or entity."""
    messages = QueueMessage.objects.filter(tenant=tenant)
    if status:
        messages = messages.filter(status=status)
    if entity:
        messages = messages.filter(entity=entity)
    return messages


def get_message(user: User, message_id: str) -> QueueMessage:
    """A message of a stream `user` reads (the public one, or a tenant's they are a member of);
    NotFound for anything else."""
    message = QueueMessage.objects.filter(pk=message_id).first()
    if message is None or (message.tenant_id and not Membership.objects.filter(user=user, tenant_id=message.tenant_id).exists()):
        raise NotFound("No such message.")
    return message


def _claimable(entities=None, now=None):
    pending = QueueMessage.objects.filter(status=Status.PENDING, available_at__lte=now or timezone.now())
    if entities:
        pending = pending.filter(entity__in=entities)
    return pending.order_by("-priority", "timestamp", "id")


def pending(limit: int = 10, entities=None, *, public_only: bool = False) -> list[QueueMessage]:
    """Claimable messages, highest priority first, then oldest first: of every stream (bots
    work them all), or of the public one only (seed 002's bot, whose queue was one stream)."""
    claimable = _claimable(entities)
    if public_only:
        claimable = claimable.filter(tenant=None)
    return list(claimable[:limit])


# --- Claims: every claim, completion, failure and release is a batch ------------------------
#
# A worker holding many claims hands them in together, so each function here takes a list and
# does its work in one transaction with a fixed number of statements, whatever the list's
# length (asserted in tests/queue_app/test_query_counts.py). The single-message routes, the
# original clients' routes and the bot call them with a batch of one.

@dataclass(frozen=True)
class Completion:
    """A claim to complete, with the bot's reply (None: complete without one)."""

    message_id: str
    claim_token: str
    reply: str | None = None
    username: str = ""
    color: str = ""


@dataclass(frozen=True)
class Failure:
    """A claim to give back after a failure, saying what went wrong."""

    message_id: str
    claim_token: str
    error: str
    #: Asking again cannot help (a 4xx, a refusal): a dead letter at once.
    permanent: bool = False
    #: Not claimable again for this long (a provider's Retry-After, an open breaker's wait),
    #: however long; None: the queue's own backoff.
    retry_in: float | None = None
    #: The model never ran it (an open breaker, a 429/503/529 before processing): no attempt spent.
    deferred: bool = False


@dataclass(frozen=True)
class HeldClaim:
    """A claim to release untouched."""

    message_id: str
    claim_token: str


@dataclass
class Outcome:
    """What became of one claim of a batch: the message (and a completion's reply), or the error
    of this claim alone (NotFound, or Conflict when it is not held under this token any more)."""

    message_id: str
    message: QueueMessage | None = None
    reply: QueueMessage | None = None
    error: Exception | None = None


class SQL:
    """A piece of SQL with its parameters, as an assignment of `_update_returning`."""

    def __init__(self, sql: str, params=()):
        self.sql, self.params = sql, list(params)


def _adapt(value):
    return connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value


def _update_returning(assignments: dict, where: str, params: list, *, before: str = "") -> list[QueueMessage]:
    """`UPDATE queue SET … WHERE … RETURNING *` (PostgreSQL, SQLite ≥ 3.35): the conditional
    update decides and hands back the rows it changed, in one round trip. An assignment is a
    value or an `SQL` expression (of the row's values before the update). `before` is a
    statement without parameters sent ahead of it in the same round trip (PostgreSQL: Django's
    psycopg cursors bind on the client side, so one query string may hold several statements,
    each planned when it is reached); its result is skipped."""
    setters, values = [], []
    for column, value in assignments.items():
        if isinstance(value, SQL):
            setters.append(f"{connection.ops.quote_name(column)} = {value.sql}")
            values += [_adapt(v) for v in value.params]
        else:
            setters.append(f"{connection.ops.quote_name(column)} = %s")
            values.append(_adapt(value))
    sql = f"{before}UPDATE {TABLE} SET {', '.join(setters)} WHERE {where} RETURNING {_COLUMNS.sql}"
    # The claim's planner settings ride in its query string: two statements, which only a
    # client-side binding cursor sends at once.
    with (connection.cursor() if before else prepared_cursor()) as cursor:
        cursor.execute(sql, [*values, *params])
        if before:
            cursor.nextset()
        rows, conn = cursor.fetchall(), connections[DEFAULT_DB_ALIAS]
        return [_COLUMNS.load(row, conn) for row in rows]


def _held_where(worker_id: str, held) -> tuple[str, list]:
    """WHERE of the claims in `held` this worker holds: (id, claim token) pairs, one statement for
    any number of them (a row-value IN, which SQLite takes against VALUES)."""
    pairs = ", ".join(["(%s, %s)"] * len(held))
    params = [value for claim in held for value in (claim.message_id, claim.claim_token)]
    return (f"(id, claim_token) IN (VALUES {pairs}) AND status = %s AND claimed_by = %s",
            [*params, Status.PROCESSING, worker_id])


def _clean_batch(held, field="claims") -> None:
    if not held:
        raise ValidationError({field: "At least one claim."})
    if len(held) > MAX_BATCH:
        raise ValidationError({field: f"At most {MAX_BATCH} claims at once."})
    ids = [claim.message_id for claim in held]
    if len(set(ids)) != len(ids):
        raise ValidationError({field: "Each message once per batch."})
    for claim in held:
        if not isinstance(claim.claim_token, str) or not claim.claim_token:
            raise ValidationError({"claim_token": "The claim's token is required."})


def _best_first(messages: list[QueueMessage]) -> list[QueueMessage]:
    return sorted(messages, key=lambda m: (-m.priority, m.timestamp, m.id))


def claim_many(worker_id: str, limit: int = 1, entities=None, lease_seconds: float | None = None, *,
               message_id: str | None = None, claimant: User | None = None) -> list[QueueMessage]:
    """Claim up to `limit` of the best claimable messages (of `entities`), best first, each under
    its own claim token, for `worker_id` (a worker of `claimant`, the bot user calling); an empty
    list when there are none. With `message_id`: that message or an error — NotFound, or
    Conflict when it is not pending or waits for its retry backoff. Two statements (the claim,
    its events) plus one per level of the claims' threads, whatever `limit` is."""
    worker_id, lease = _clean_worker(worker_id), _clean_lease(lease_seconds)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_BATCH:
        raise ValidationError({"limit": f"1 to {MAX_BATCH}."})
    now = timezone.now()
    with transaction.atomic():
        claimed = _claim(worker_id, limit, entities, lease, claimant, now, message_id)
        if message_id and not claimed:
            _why_not_claimed(message_id, now)
        if claimed:
            publish_many([_event(message, "queue_message.claimed") for message in claimed])
    load_threads(claimed)
    return claimed


def claim(message_id: str, worker_id: str, lease_seconds: float | None = None, *,
          claimant: User | None = None) -> QueueMessage:
    """Claim one named message: `claim_many` of it."""
    return claim_many(worker_id, 1, None, lease_seconds, message_id=message_id, claimant=claimant)[0]


def claim_next(worker_id: str, entities=None, lease_seconds: float | None = None, *,
               claimant: User | None = None) -> QueueMessage | None:
    """Claim the best claimable message, or None: `claim_many` of one."""
    claimed = claim_many(worker_id, 1, entities, lease_seconds, claimant=claimant)
    return claimed[0] if claimed else None


def _claim(worker_id: str, limit: int, entities, lease: timedelta, claimant: User | None, now,
           message_id: str | None = None) -> list[QueueMessage]:
    """The claim as one statement: `UPDATE … WHERE id IN (the best `limit` candidates) AND status
    = 'pending' RETURNING *`. On PostgreSQL the candidates are picked `FOR UPDATE SKIP LOCKED`,
    so concurrent workers take different rows instead of queueing on the same ones; on SQLite
    the IMMEDIATE transaction holds the write lock. Either way the status check in the WHERE
    decides. Each row's claim token is a fresh random prefix and the row's id: one per claim,
    unguessable, made by the statement itself."""
    candidate_sql, candidate_params = _candidates(limit, entities, now, message_id)
    postgres = connection.vendor == "postgresql"
    claimed = _update_returning(
        {"status": Status.PROCESSING, "claimed_by": worker_id, "claim_token": SQL("%s || id", [secrets.token_urlsafe(16)]),
         "claimed_at": now, "lease_expires_at": now + lease, "claimant_id": claimant.pk if claimant else None,
         "partial_text": ""},
        # PostgreSQL may run an IN (… LIMIT n FOR UPDATE SKIP LOCKED) subquery more than once and
        # so claim more than n rows; ARRAY(…) runs it once, as an init plan. Its rows are locked
        # and pending (FOR UPDATE rechecks the WHERE on a row changed meanwhile), so the UPDATE
        # needs no status test of its own: with one, the planner could walk the pending index
        # for the ids instead of the primary key.
        f"id = ANY(ARRAY({candidate_sql}))" if postgres else f"id IN ({candidate_sql}) AND status = '{Status.PENDING}'",
        candidate_params,
        before=PLAN_CLAIMS_OFF_THE_INDEX if postgres else "",
    )
    return _best_first(claimed)


#: Keeps PostgreSQL from planning the claim as a scan of every pending row and a sort. Without
#: statistics, or with stale ones (a fresh or bulk-loaded table before autovacuum's ANALYZE, or
#: a server that runs none, as this machine's), the planner takes the pending rows for a few
#: dozen, reads them all through a bitmap and sorts them, on disk beyond work_mem: 130 ms a
#: claim at 100,000 pending instead of 3 ms down the index (docs/performance.md, "Batches and
#: peers"). With bitmaps and sorts off, reading the index in its order is the only plan left.
#: Both settings last until the claim's transaction ends, whose statements after the claim are
#: inserts. Sent ahead of the claim in its own round trip (`_update_returning`'s `before`).
PLAN_CLAIMS_OFF_THE_INDEX = "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true); "


def _candidates(limit: int, entities, now, message_id: str | None) -> tuple[str, list]:
    """The claim's candidates, best first (`_claimable`'s order, read off the index
    queue_pending_claim_order), `FOR UPDATE SKIP LOCKED` where the database has it. Written out
    once: it runs on every claim, and composing it with the ORM cost more than running it."""
    where, params = ["status = %s", "available_at <= %s"], [Status.PENDING, _adapt(now)]
    if entities:
        where.append(f"entity IN ({', '.join(['%s'] * len(entities))})")
        params += list(entities)
    if message_id:
        where.append("id = %s AND message_type = %s")
        params += [message_id, Type.HUMAN]
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (f"SELECT id FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY priority DESC, timestamp, id "
            f"LIMIT %s{lock}", [*params, limit])


def _why_not_claimed(message_id: str, now) -> None:
    message = QueueMessage.objects.filter(pk=message_id).only("status", "message_type", "available_at").first()
    if message is None:
        raise NotFound("No such message.")
    if message.message_type != Type.HUMAN:
        raise Conflict("Only human messages are claimed.")
    if message.status == Status.PENDING and message.available_at > now:
        raise Conflict("This message waits for its retry backoff.")
    raise Conflict(f"This message is not pending (it is {message.status}).")


def claim_held_by(message_id: str, user: User) -> QueueMessage:
    """The claim `user`'s workers hold on a message, for clients that complete by message id
    alone (the original bot): its worker id and claim token then go to complete_many(), whose
    conditional update still decides. NotFound, or Conflict when `user` holds no such claim."""
    message = QueueMessage.objects.filter(pk=message_id).first()
    if message is None:
        raise NotFound("No such message.")
    if message.status != Status.PROCESSING or message.claimant_id != user.pk:
        raise Conflict(f"This message is not processing under your claim (it is {message.status}).")
    return message


def complete_many(
    worker_id: str,
    completions: list[Completion],
    *,
    claim_next: int = 0,
    next_entities=None,
    lease_seconds: float | None = None,
    claimant: User | None = None,
) -> tuple[list[Outcome], list[QueueMessage]]:
    """Finish claims, each with the bot's reply written in the same transaction, and claim up to
    `claim_next` more for the worker. Returns (an Outcome per completion, in order; the new
    claims).

    A completion is refused (its Outcome's error, not the batch's) unless the message is
    processing under this worker and claim token, so a worker whose lease expired and whose
    message was claimed again can never overwrite the new owner's result. Idempotent on
    (message, claim token): repeating a completion that went through returns the same reply; a
    batch that completed nothing new claims nothing new (a retried request takes no second set).
    A fixed number of statements whatever the batch's size: the completions, the replies, the
    next claims, the authors' notifications (two), all events (one, with the notifications')."""
    worker_id, lease = _clean_worker(worker_id), _clean_lease(lease_seconds)
    _clean_batch(completions)
    if isinstance(claim_next, bool) or not isinstance(claim_next, int) or not 0 <= claim_next <= MAX_BATCH:
        raise ValidationError({"next": f"0 to {MAX_BATCH}."})
    for completion in completions:
        if completion.reply is not None:
            _clean_text(completion.reply, "reply")
        if completion.color and not COLOR.match(completion.color):
            raise ValidationError({"color": "A color is #rrggbb."})
    now = timezone.now()
    with transaction.atomic():
        where, params = _held_where(worker_id, completions)
        done = {message.pk: message for message in _update_returning(
            {"status": Status.COMPLETE, "completed_at": now, "lease_expires_at": None, "last_error": "",
             "partial_text": ""}, where, params,
        )}
        outcomes = {completion.message_id: Outcome(completion.message_id, done.get(completion.message_id))
                    for completion in completions}
        _explain_missed([c for c in completions if c.message_id not in done], outcomes)
        replies, events, notes = [], [], []
        for completion in completions:
            message = done.get(completion.message_id)
            if message is None:
                continue
            if completion.reply is None:
                events.append(_event(message, "queue_message.completed"))
                continue
            reply = new_row(
                QueueMessage,
                tenant_id=message.tenant_id,
                text=completion.reply.strip(),
                username=(completion.username or message.entity or settings.QUEUE_BOT_NAME)[:100],
                color=completion.color,
                message_type=Type.AI,
                reply_to_id=message.pk,
                status=Status.COMPLETE,
                entity=message.entity,
                claimed_by=worker_id,
                claim_token=completion.claim_token,
                completed_at=now,
                available_at=now,
            )
            outcomes[message.pk].reply = reply
            replies.append(reply)
            events.append(_event(message, "queue_message.answered", reply=reply))
            if message.author_id is not None:
                notes.append(_reply_notification(message, reply))
        bulk_insert(replies)
        following = _claim(worker_id, claim_next, next_entities, lease, claimant, now) if claim_next and done else []
        events += [_event(message, "queue_message.claimed") for message in following]
        notify_many(notes, publishing=events)  # the authors' notifications and all events: one insert
    load_threads(following)
    return [outcomes[completion.message_id] for completion in completions], following


def complete(message_id: str, worker_id: str, claim_token: str, reply: str | None = None, *, username: str = "",
             color: str = "", next_entities=None, claim_next_message: bool = False,
             lease_seconds: float | None = None,
             claimant: User | None = None) -> tuple[QueueMessage, QueueMessage | None, QueueMessage | None]:
    """One completion (`complete_many` of one): (message, reply, next claimed message or None);
    its error raised."""
    [outcome], following = complete_many(
        worker_id, [Completion(message_id, claim_token, reply, username, color)],
        claim_next=1 if claim_next_message else 0, next_entities=next_entities, lease_seconds=lease_seconds,
        claimant=claimant,
    )
    if outcome.error:
        raise outcome.error
    return outcome.message, outcome.reply, following[0] if following else None


def _explain_missed(missed: list, outcomes: dict[str, Outcome]) -> None:
    """The Outcome of each claim a batch's update did not take: NotFound, a completion that went
    through already under this token (idempotent: its message and reply), or Conflict. Two
    queries at most, none when nothing was missed."""
    if not missed:
        return
    found = QueueMessage.objects.in_bulk([claim.message_id for claim in missed])
    repeated = [claim for claim in missed if isinstance(claim, Completion) and claim.message_id in found
                and found[claim.message_id].status == Status.COMPLETE
                and found[claim.message_id].claim_token == claim.claim_token]
    replies = {}
    if repeated:
        written = QueueMessage.objects.filter(
            reply_to_id__in=[claim.message_id for claim in repeated],
            claim_token__in=[claim.claim_token for claim in repeated], message_type=Type.AI,
        )
        replies = {(reply.reply_to_id, reply.claim_token): reply for reply in written}
    for claim in missed:
        outcome, message = outcomes[claim.message_id], found.get(claim.message_id)
        if message is None:
            outcome.error = NotFound("No such message.")
        elif claim in repeated:
            outcome.message, outcome.reply = message, replies.get((message.pk, claim.claim_token))
        else:
            outcome.error = Conflict("This message is not processing under this claim (its lease may have expired).")


def _reply_notification(message: QueueMessage, answer: QueueMessage) -> NewNotification:
    """The `queue.reply` notification to the human who wrote `message` (raised in the
    completion's transaction: a rolled-back completion notifies nobody)."""
    return NewNotification(
        message.author_id,
        Kind.QUEUE_REPLY,
        title=f"{answer.username} replied to your message",
        body=answer.text,
        link=f"/queue/{'?tenant=' + message.tenant_id if message.tenant_id else ''}#m-{message.id}",
        payload={"message_id": message.id, "reply_id": answer.id},
        tenant_id=message.tenant_id,
    )


def _backoff(attempts: int) -> timedelta:
    seconds = settings.QUEUE_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(settings.QUEUE_RETRY_CAP_SECONDS, seconds))


def _after_failure(now) -> tuple[SQL, SQL]:
    """(status, available_at) of a message failing now, as SQL of its attempts before this one:
    a dead letter at QUEUE_MAX_ATTEMPTS, else pending again after `_backoff` (a WHEN per attempt
    count until the backoff reaches its cap)."""
    dead = "attempts + 1 >= %s"
    whens, params = [], []
    for attempts in range(settings.QUEUE_MAX_ATTEMPTS):
        backoff = _backoff(attempts + 1)
        if backoff.total_seconds() >= settings.QUEUE_RETRY_CAP_SECONDS:
            break
        whens.append("WHEN attempts = %s THEN %s")
        params += [attempts, now + backoff]
    status = SQL(f"CASE WHEN {dead} THEN %s ELSE %s END", [settings.QUEUE_MAX_ATTEMPTS, Status.FAILED, Status.PENDING])
    available = SQL(f"CASE WHEN {dead} THEN %s {' '.join(whens)} ELSE %s END",
                    [settings.QUEUE_MAX_ATTEMPTS, now, *params, now + timedelta(seconds=settings.QUEUE_RETRY_CAP_SECONDS)])
    return status, available


def _failure_overrides(failures: list[Failure], now, status: SQL, available: SQL) -> tuple[SQL, SQL, SQL]:
    """What a failure's own kind changes in `_after_failure`'s SQL: a permanent one is dead at
    once, a deferred one spends no attempt (and is never dead for it), and a `retry_in` waits
    that long instead of the backoff."""
    def ids(items):
        return [f.message_id for f in items] or [""]  # IN ('') matches no id

    def in_(items):
        return f"id IN ({', '.join(['%s'] * max(1, len(items)))})"

    permanent = [f for f in failures if f.permanent]
    deferred = [f for f in failures if f.deferred and not f.permanent]
    waits = [f for f in failures if f.retry_in is not None and not f.permanent]
    status = SQL(f"CASE WHEN {in_(permanent)} THEN %s WHEN {in_(deferred)} THEN %s ELSE {status.sql} END",
                 [*ids(permanent), Status.FAILED, *ids(deferred), Status.PENDING, *status.params])
    attempts = SQL(f"CASE WHEN {in_(deferred)} THEN attempts ELSE attempts + 1 END", ids(deferred))
    if waits:
        whens = " ".join(["WHEN id = %s THEN %s"] * len(waits))
        available = SQL(f"CASE {whens} ELSE {available.sql} END",
                        [v for f in waits for v in (f.message_id, now + timedelta(seconds=max(0.0, f.retry_in)))]
                        + available.params)
    return status, attempts, available


def fail_many(worker_id: str, failures: list[Failure]) -> list[Outcome]:
    """Give claims back after failures: each pending again after a backoff, or `failed` (a dead
    letter) once it used QUEUE_MAX_ATTEMPTS attempts; one statement for the batch.

    A failure is refused (its Outcome's error) unless the message is processing under this
    worker's claim token: worker ids are public (`claimed_by` in the stream), so without the
    token any bot could fail another's claim."""
    worker_id = _clean_worker(worker_id)
    _clean_batch(failures)
    errors = {}
    for failure in failures:
        errors[failure.message_id] = (failure.error or "").strip()[:ERROR_MAX] if isinstance(failure.error, str) else ""
        if not errors[failure.message_id]:
            raise ValidationError({"last_error": "Say what went wrong."})
    now = timezone.now()
    status, available = _after_failure(now)
    status, attempts, available = _failure_overrides(failures, now, status, available)
    cases = " ".join(["WHEN %s THEN %s"] * len(failures))
    with transaction.atomic():
        where, params = _held_where(worker_id, failures)
        done = {message.pk: message for message in _update_returning(
            {"status": status, "attempts": attempts, "available_at": available, "lease_expires_at": None,
             "partial_text": "",
             "last_error": SQL(f"CASE id {cases} END", [v for item in errors.items() for v in item])},
            where, params,
        )}
        outcomes = {failure.message_id: Outcome(failure.message_id, done.get(failure.message_id)) for failure in failures}
        _explain_missed([f for f in failures if f.message_id not in done], outcomes)
        if done:
            publish_many([_event(message, "queue_message.failed") for message in done.values()])
    return [outcomes[failure.message_id] for failure in failures]


def fail(message_id: str, worker_id: str, error: str, claim_token: str) -> QueueMessage:
    """One failure (`fail_many` of one), its error raised."""
    [outcome] = fail_many(worker_id, [Failure(message_id, claim_token, error)])
    if outcome.error:
        raise outcome.error
    return outcome.message


def release_many(worker_id: str, claims: list[HeldClaim]) -> list[Outcome]:
    """Hand claims back untouched (a worker stopping before it started them): pending at once, no
    attempt counted; one statement for the batch. Refused per claim as fail_many is."""
    worker_id = _clean_worker(worker_id)
    _clean_batch(claims)
    with transaction.atomic():
        where, params = _held_where(worker_id, claims)
        done = {message.pk: message for message in _update_returning(
            {"status": Status.PENDING, "lease_expires_at": None, "claimed_by": "", "claimant_id": None,
             "available_at": timezone.now(), "partial_text": ""},
            where, params,
        )}
        outcomes = {claim.message_id: Outcome(claim.message_id, done.get(claim.message_id)) for claim in claims}
        _explain_missed([c for c in claims if c.message_id not in done], outcomes)
        if done:
            publish_many([_event(message, "queue_message.released") for message in done.values()])
    return [outcomes[claim.message_id] for claim in claims]


def release(message_id: str, worker_id: str, claim_token: str) -> QueueMessage:
    """One release (`release_many` of one), its error raised."""
    [outcome] = release_many(worker_id, [HeldClaim(message_id, claim_token)])
    if outcome.error:
        raise outcome.error
    return outcome.message


@dataclass(frozen=True)
class Partial:
    """A streamed answer's text so far, for a claim the worker holds."""

    message_id: str
    claim_token: str
    text: str


STREAMING = "streaming"


def streaming_frame(message: QueueMessage) -> dict:
    """The ephemeral frame of a partial answer (docs/realtime.md): never in the event log; the
    whole text so far, so a lost or repeated frame costs nothing."""
    return {"type": STREAMING, "group": message.group,
            "data": {"message_id": message.pk, "partial_text": message.partial_text}}


def stream_partials(worker_id: str, partials: list[Partial]) -> list[QueueMessage]:
    """Record the text so far of answers being streamed, on claims this worker holds (others
    are skipped: a stale worker cannot show text under a new owner's claim), and send the
    ephemeral frames. One statement; no event in the log. The bot calls it at most every
    QUEUE_STREAM_INTERVAL_SECONDS per answer."""
    from project.realtime.services import deliver_transient

    worker_id = _clean_worker(worker_id)
    _clean_batch(partials)
    for partial in partials:
        if not isinstance(partial.text, str) or "\x00" in partial.text:
            raise ValidationError({"partial_text": "Text without NUL characters."})
    cases = " ".join(["WHEN %s THEN %s"] * len(partials))
    with transaction.atomic():
        where, params = _held_where(worker_id, partials)
        done = _update_returning(
            {"partial_text": SQL(f"CASE id {cases} END", [v for p in partials
                                                           for v in (p.message_id, p.text[: settings.QUEUE_MESSAGE_MAX_LENGTH])]),
             "partial_at": timezone.now()},
            where, params,
        )
    if done:
        deliver_transient([streaming_frame(message) for message in done])
    return done


def streaming_since(since):
    """Embedded mode's dispatcher (project/realtime/dispatcher.py): the partial answers written
    since `since` (None: from now on), as frames, and the new `since`. Indexed (queue_streaming)."""
    now = timezone.now()
    if since is None:
        return [], now
    rows = QueueMessage.objects.filter(status=Status.PROCESSING, partial_at__gt=since).exclude(partial_text="")
    rows = list(rows.only("id", "tenant_id", "partial_text", "partial_at").order_by("partial_at")[:200])
    return [streaming_frame(message) for message in rows], max([now - timedelta(seconds=1), since,
                                                                *[m.partial_at for m in rows]])


def heartbeat(message_id: str, worker_id: str, claim_token: str, lease_seconds: float | None = None) -> QueueMessage:
    """Extend a claim's lease from now; Conflict when the claim is no longer this worker's."""
    worker_id, lease = _clean_worker(worker_id), _clean_lease(lease_seconds)
    expires = timezone.now() + lease
    extended = QueueMessage.objects.filter(
        pk=message_id, status=Status.PROCESSING, claimed_by=worker_id, claim_token=claim_token
    ).update(lease_expires_at=expires)
    message = QueueMessage.objects.filter(pk=message_id).first()
    if message is None:
        raise NotFound("No such message.")
    if not extended:
        raise Conflict("This message is not processing under this claim (its lease may have expired).")
    return message  # no event: a lease extension changes nothing anyone watches


def retry_many(message_ids: list[str], user: User) -> list[Outcome]:
    """Staff put dead letters (failed) back in the queue with a fresh attempt budget: one
    statement for the batch; a message that is not failed is its Outcome's Conflict."""
    if not (user.is_staff or user.is_superuser):
        raise PermissionDenied("Only staff retry dead letters.")
    message_ids = list(dict.fromkeys(message_ids))
    if not message_ids:
        return []
    with transaction.atomic():
        done = {message.pk: message for message in _update_returning(
            {"status": Status.PENDING, "attempts": 0, "available_at": timezone.now(), "claimed_by": "",
             "claimant_id": None, "lease_expires_at": None},
            f"id IN ({', '.join(['%s'] * len(message_ids))}) AND status = %s", [*message_ids, Status.FAILED],
        )}
        outcomes = {message_id: Outcome(message_id, done.get(message_id)) for message_id in message_ids}
        missed = [message_id for message_id in message_ids if message_id not in done]
        if missed:
            found = QueueMessage.objects.in_bulk(missed)
            for message_id in missed:
                message = found.get(message_id)
                outcomes[message_id].error = (
                    NotFound("No such message.") if message is None
                    else Conflict(f"Only failed messages are retried (this one is {message.status}).")
                )
        if done:
            publish_many([_event(message, "queue_message.retried") for message in done.values()])
    return [outcomes[message_id] for message_id in message_ids]


def retry(message_id: str, user: User) -> QueueMessage:
    """One retry (`retry_many` of one), its error raised."""
    [outcome] = retry_many([message_id], user)
    if outcome.error:
        raise outcome.error
    return outcome.message


# --- Maintenance (manage.py requeue_expired, prune_queue; the bot loop) ----------------------

def requeue_expired(batch_size: int = REQUEUE_BATCH_SIZE) -> int:
    """Put processing messages whose lease ran out back to pending (available at once), counting
    an attempt; those out of attempts become failed. Batched; returns how many it moved."""
    moved = 0
    while True:
        now = timezone.now()
        with transaction.atomic():
            expired = QueueMessage.objects.filter(status=Status.PROCESSING, lease_expires_at__lt=now)
            if connection.features.has_select_for_update_skip_locked:
                expired = expired.select_for_update(skip_locked=True)
            ids = list(expired.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return moved
            # The rows are ours until commit (locked on PostgreSQL; SQLite's IMMEDIATE
            # transaction holds the write lock), and the WHERE still says "processing, expired".
            moved += QueueMessage.objects.filter(pk__in=ids, status=Status.PROCESSING, lease_expires_at__lt=now).update(
                status=Case(
                    When(attempts__gte=settings.QUEUE_MAX_ATTEMPTS - 1, then=Value(Status.FAILED)),
                    default=Value(Status.PENDING),
                ),
                attempts=F("attempts") + 1,
                last_error="The lease expired before the worker completed.",
                partial_text="",  # a bot that died mid-answer leaves no half reply
                lease_expires_at=None,
                available_at=now,
            )
            publish_many([_event(message, "queue_message.requeued") for message in QueueMessage.objects.filter(pk__in=ids)])
        if len(ids) < batch_size:
            return moved


def prune(retention: int | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Keep the newest `retention` complete messages of each stream; delete older complete ones
    in batches. Pending, processing and failed messages are never deleted."""
    retention = settings.QUEUE_RETENTION if retention is None else retention
    deleted = 0
    streams = QueueMessage.objects.values_list("tenant_id", flat=True).distinct().order_by()
    for tenant_id in list(streams):
        complete = QueueMessage.objects.filter(tenant_id=tenant_id, status=Status.COMPLETE)
        cutoff = complete.order_by("-timestamp", "-id").values_list("timestamp", "id")[retention:retention + 1]
        cutoff = list(cutoff)
        if not cutoff:
            continue
        ts, pk = cutoff[0]
        old = complete.filter(Q(timestamp__lt=ts) | Q(timestamp=ts, id__lte=pk))
        while ids := list(old.values_list("pk", flat=True)[:batch_size]):
            with transaction.atomic():
                # Status re-checked in the DELETE: nothing that went back to pending is lost.
                deleted += QueueMessage.objects.filter(pk__in=ids, status=Status.COMPLETE).delete()[0]
    return deleted


def stats() -> dict:
    """Numbers for /health and the admin: pending count, oldest pending age, stale claims."""
    now = timezone.now()
    pending_qs = QueueMessage.objects.filter(status=Status.PENDING)
    oldest = pending_qs.order_by("timestamp").values_list("timestamp", flat=True).first()
    return {
        "pending": pending_qs.count(),
        "oldest_pending_age_s": round((now_ms() - oldest) / 1000, 1) if oldest else 0.0,
        "stale_processing": QueueMessage.objects.filter(status=Status.PROCESSING, lease_expires_at__lt=now).count(),
        "failed": QueueMessage.objects.filter(status=Status.FAILED).count(),
    }


def bot_presence() -> dict:
    """Whether a bot is answering: the `manage.py run_bot` heartbeats (project/workers) that are
    up — beat within WORKER_STALE_SECONDS and not stopped. A bot started with --api-url writes
    no heartbeat here and is not counted. {"online", "bots": how many}."""
    up = [w for w in list_workers() if w["up"] and w["name"].startswith(BOT_HEARTBEAT)]
    return {"online": bool(up), "bots": len(up)}


def group_for_stream(tenant_id: str | None) -> str:
    return stream_group(tenant_id)

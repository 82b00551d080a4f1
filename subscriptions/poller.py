"""The poller: claims due users a batch at a time with a lease, polls their subscriptions, and
writes what it found per batch. `manage.py poll_subscriptions` only parses arguments around it.

    poller = Poller(concurrency=4, batch_size=100)
    summary = poller.run_once()     # every user due now, a batch at a time

A batch goes through four stages, each a constant number of queries whatever its size:

1. **claim** up to `batch_size` due users: conditional UPDATEs of PollSchedule rows (free = no
   lease or an expired one); on PostgreSQL the candidates are first read FOR UPDATE SKIP LOCKED,
   so overlapping runs pick different users instead of queueing on the same rows. The UPDATE's
   own condition is what makes it correct (SQLite ignores SKIP LOCKED), so two runs never poll
   the same user at once;
2. **load** the users' enabled subscriptions with their accounts, in one query;
3. **poll** each user on the pool's `concurrency` threads. A thread makes the user's provider
   calls and keeps what it learns in memory; it touches the database only to refresh a token
   (under the account's row lock, services.fresh_access_token) and for the circuit breaker's
   once-a-second bookkeeping;
4. **write**, in the main thread and one transaction: the batch's new feed items (one read of
   those already stored, one bulk insert), every polled subscription's cursor (one statement
   with a row of parameters each), the new-items notifications (one call) and the release of
   every schedule (one statement). Should that transaction fail, its users are written one at
   a time, so one user's bad data costs only that user's poll.

While a batch is written, the next one is already claimed and being polled: the threads do not
wait for the database, and the database does not wait for the slowest user of a batch. Leases
of a batch whose polls take long are renewed (the lease is per user, a batch can outlast it).
The work is CPU-bound in one process (the GIL; docs/performance.md, "Poller"): the batches exist
so that Django builds a few statements per batch instead of a dozen per user.
"""

import logging
import os
import secrets
import socket
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from notifications.services import NewNotification, notify_many
from project.resilience.breaker import CircuitOpen
from project.resilience.http import HttpError
from project.resilience.retry import parse_retry_after

from . import oauth, services
from .models import FeedItem, PollRun, PollSchedule, ProviderAccount, Subscription
from .providers import ProviderError, get_provider

logger = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=1)
ERROR_MAX = 500
#: Users claimed, polled and written together (`poll_subscriptions --batch-size`). The per-batch
#: statements cost about as much as one user's poll, so a hundred users make them noise; a
#: bigger batch only holds more leases and more results in memory.
BATCH_SIZE = 100


@dataclass
class UserResult:
    user_id: int
    items_found: int = 0
    calls: int = 0
    failed: bool = False
    error: str = ""
    #: Set when the provider (429) or our per-user limit says: not before then.
    not_before: object = None


@dataclass
class RunSummary:
    users_polled: int = 0
    items_found: int = 0
    failures: int = 0
    duration_s: float = 0.0
    users: list[int] = field(default_factory=list)

    def line(self) -> str:
        return (f"Polled {self.users_polled} users: {self.items_found} new items, {self.failures} failures, "
                f"{self.duration_s:.2f} s.")


@dataclass
class UserPoll:
    """One claimed user of a batch: what was loaded for them, and what polling them found out
    (kept in memory by the polling thread until the batch is written)."""

    schedule: PollSchedule
    subscriptions: list[Subscription]
    result: UserResult
    #: Subscriptions whose cursor, etag, error or enabled flag is to be saved.
    polled: list[Subscription] = field(default_factory=list)
    #: (subscription, items the provider returned); what is not stored yet gets stored.
    found: list[tuple[Subscription, list]] = field(default_factory=list)
    #: (account, why): the provider refused the access token (401); marked needs_reauth on write.
    refused: list[tuple[ProviderAccount, str]] = field(default_factory=list)
    duration_ms: int = 0

    def fail(self, error: BaseException) -> None:
        """Nothing of this poll is kept but the failure (the release records it)."""
        self.result.failed, self.result.error, self.result.items_found = True, _short(error), 0
        self.polled, self.found, self.refused = [], [], []


@dataclass
class Batch:
    polls: list[UserPoll]
    futures: list
    #: When its leases were last (re)taken, by time.monotonic().
    leased_at: float


def worker_name() -> str:
    """Identifies this run in the lease: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def backoff_seconds(failures: int) -> int:
    """After `failures` consecutive failed polls (>= 1)."""
    return min(settings.SUBSCRIPTIONS_BACKOFF_MAX_SECONDS,
               settings.SUBSCRIPTIONS_BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 30))


def _short(error: BaseException) -> str:
    # HttpError's text never holds the URL or the token; neither do ours.
    return f"{type(error).__name__}: {error}"[:ERROR_MAX]


class Poller:
    def __init__(self, *, concurrency: int = 1, batch_size: int = BATCH_SIZE, user_ids=None,
                 worker: str | None = None, should_stop=lambda: False, on_progress=lambda state: None):
        self.concurrency = max(1, concurrency)
        self.batch_size = max(1, batch_size)
        #: --user: poll these users even when not due (still never while another run holds them).
        self.user_ids = list(user_ids) if user_ids else None
        self.worker = worker or worker_name()
        self.should_stop = should_stop
        self.on_progress = on_progress
        self._cutoff = None
        #: Users claimed by this run (--user polls each named user once).
        self._claimed = set()
        #: Database connections the worker threads kept between users (SQLite), closed at the end.
        self._kept = set()

    # --- the run ---------------------------------------------------------------------------

    def due(self):
        now = timezone.now()
        free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        rows = PollSchedule.objects.filter(free)
        if self.user_ids is not None:
            # Each named user once per run, even though polling leaves them free to claim again.
            return rows.filter(user_id__in=set(self.user_ids) - self._claimed)
        # Due when the run started: a user whose interval is shorter than the run is left for
        # the next run instead of keeping this one busy forever.
        return rows.filter(next_poll_at__lte=min(now, self._cutoff or now))

    def run_once(self) -> RunSummary:
        """Poll every user due now, a batch at a time; record a PollRun when work was found."""
        started, started_at = time.monotonic(), timezone.now()
        self._cutoff, self._claimed = started_at, set()
        summary = RunSummary()
        executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="poll") if self.concurrency > 1 else None
        # With threads, one batch is polled while the one before it is written.
        depth = 2 if executor else 1
        pending: deque[Batch] = deque()
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < depth and not self.should_stop():
                    batch = self._start(executor)
                    if batch is None:
                        exhausted = True
                    else:
                        pending.append(batch)
                if not pending:
                    break
                for result in self._finish(pending.popleft()):
                    summary.users_polled += 1
                    summary.items_found += result.items_found
                    summary.failures += result.failed
                    summary.users.append(result.user_id)
                self.on_progress(f"polled {summary.users_polled} users")
        finally:
            self._cutoff = None
            if executor:
                executor.shutdown(wait=True)
                self._close_kept_connections()
        summary.duration_s = time.monotonic() - started
        if summary.users_polled:
            PollRun.objects.create(
                worker=self.worker, started_at=started_at, finished_at=timezone.now(),
                duration_ms=round(summary.duration_s * 1000), users_polled=summary.users_polled,
                items_found=summary.items_found, failures=summary.failures,
            )
        return summary

    def step(self, executor=None) -> list[UserResult]:
        """Claim one batch, poll it and write it; [] when nobody is due."""
        batch = self._start(executor)
        return self._finish(batch) if batch else []

    def _start(self, executor) -> Batch | None:
        """Claim and load a batch and start polling it (on the pool, or here without one)."""
        schedules = self.claim(self.batch_size)
        if not schedules:
            return None
        leased_at = time.monotonic()
        self._claimed.update(s.user_id for s in schedules)
        polls = self.load(schedules)
        if executor is None:
            for poll in polls:
                self._poll_safely(poll)
            return Batch(polls, [], leased_at)
        return Batch(polls, [executor.submit(self._poll_in_thread, poll) for poll in polls], leased_at)

    def _finish(self, batch: Batch) -> list[UserResult]:
        """Wait for the batch's polls, renewing its leases while they run long, then write it."""
        renew_after = settings.SUBSCRIPTIONS_POLL_LEASE_SECONDS / 2
        futures = batch.futures
        while futures:
            _, futures = wait(futures, timeout=max(0.0, batch.leased_at + renew_after - time.monotonic()))
            if futures and time.monotonic() >= batch.leased_at + renew_after:
                batch.leased_at = time.monotonic()
                self._renew([poll.schedule for poll in batch.polls])
        self.write(batch.polls)
        return [poll.result for poll in batch.polls]

    def _poll_in_thread(self, poll: UserPoll) -> None:
        try:
            self._poll_safely(poll)
        finally:
            # Per CONN_MAX_AGE, like a request's end: on PostgreSQL (0) a connection the thread
            # opened (a token refresh, the breaker) goes back to the pool; a SQLite connection is
            # kept for the thread's next user (opening one per user was a tenth of the poller's
            # time in bench/poller.py) and closed by run_once at the end. A broken one is
            # closed either way.
            close_old_connections()
            self._kept.update(c for c in connections.all(initialized_only=True) if c.connection is not None)

    def _close_kept_connections(self):
        """Close the connections the pool's threads kept; call once those threads have ended
        (their thread-local wrappers would otherwise wait for the garbage collector)."""
        while self._kept:
            wrapper = self._kept.pop()
            wrapper.inc_thread_sharing()  # its own thread is gone: closing it from here is safe
            try:
                wrapper.close()
            finally:
                wrapper.dec_thread_sharing()

    # --- claim and load --------------------------------------------------------------------

    def claim(self, limit: int) -> list[PollSchedule]:
        now = timezone.now()
        until = now + timedelta(seconds=settings.SUBSCRIPTIONS_POLL_LEASE_SECONDS)
        free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        with transaction.atomic():
            candidates = self.due().order_by("next_poll_at", "pk")
            if connection.features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True)
            ids = list(candidates.values_list("pk", flat=True)[:limit])
            if not ids:
                return []
            # The condition repeats `free`: whoever updates a row first owns it, the other
            # run's UPDATE matches nothing (this is what holds on SQLite, without SKIP LOCKED).
            PollSchedule.objects.filter(free, pk__in=ids).update(locked_until=until, locked_by=self.worker,
                                                                  last_started_at=now)
        return list(PollSchedule.objects.filter(pk__in=ids, locked_by=self.worker, locked_until=until))

    def _renew(self, schedules: list[PollSchedule]) -> None:
        until = timezone.now() + timedelta(seconds=settings.SUBSCRIPTIONS_POLL_LEASE_SECONDS)
        held = PollSchedule.objects.filter(pk__in=[s.pk for s in schedules], locked_by=self.worker).update(
            locked_until=until)
        if held < len(schedules):
            logger.warning("lost the lease on %d of %d users while polling them", len(schedules) - held,
                           len(schedules))

    def load(self, schedules: list[PollSchedule]) -> list[UserPoll]:
        """The claimed users' enabled subscriptions of active accounts, with the accounts: one
        query for the batch."""
        by_user = {schedule.user_id: [] for schedule in schedules}
        subscriptions = (
            Subscription.objects.filter(
                account__user_id__in=list(by_user), account__status=ProviderAccount.Status.ACTIVE, enabled=True
            ).select_related("account").order_by("account__user_id", "account_id", "created_at", "id")
        )
        for subscription in subscriptions:
            by_user[subscription.account.user_id].append(subscription)
        return [UserPoll(schedule, by_user[schedule.user_id], UserResult(schedule.user_id)) for schedule in schedules]

    # --- poll one user (on a pool thread) ----------------------------------------------------

    def _poll_safely(self, poll: UserPoll) -> None:
        started = time.monotonic()
        try:
            self.poll_user(poll)
        except Exception as error:  # one bad user must not stop the batch
            logger.exception("polling user %s failed", poll.result.user_id, extra={"user_id": poll.result.user_id})
            poll.fail(error)
        poll.duration_ms = round((time.monotonic() - started) * 1000)

    def poll_user(self, poll: UserPoll) -> None:
        schedule, result = poll.schedule, poll.result
        now = timezone.now()
        if schedule.rate_window_started_at is None or schedule.rate_window_started_at + RATE_WINDOW <= now:
            schedule.rate_window_started_at, schedule.rate_window_calls = now, 0
        budget = settings.SUBSCRIPTIONS_USER_CALLS_PER_MINUTE - schedule.rate_window_calls
        for _, group in groupby(poll.subscriptions, key=lambda s: s.account_id):
            if budget <= 0 or result.not_before:
                break
            group = list(group)
            budget = self._poll_account(group[0].account, group, budget, poll)
        schedule.rate_window_calls += result.calls
        if budget <= 0 and len(poll.polled) < len(poll.subscriptions) and not result.not_before:
            result.not_before = schedule.rate_window_started_at + RATE_WINDOW  # the rest after this minute

    def _poll_account(self, account, subscriptions, budget, poll: UserPoll) -> int:
        """Poll one account's subscriptions; returns the budget left."""
        result = poll.result
        try:
            token = services.fresh_access_token(account)
        except services.NeedsReauth:
            return budget  # marked and notified; nothing to poll until the user reconnects
        except (oauth.OAuth2Error, HttpError, CircuitOpen) as error:
            result.failed, result.error = True, _short(error)
            return budget
        provider = get_provider(account.provider)
        client = provider.api_client()
        refreshed = False  # a 401 gets one refresh per account and poll before "reconnect"
        try:
            for subscription in subscriptions:
                if budget <= 0:
                    break
                budget -= 1
                result.calls += 1
                now = timezone.now()
                try:
                    fetched = provider.fetch(client, subscription, token)
                except HttpError as error:
                    if error.status == 429:
                        wait_s = parse_retry_after(error.retry_after)
                        result.not_before = now + timedelta(seconds=wait_s if wait_s is not None else 60)
                        logger.info("%s rate-limits user %s", provider.name, result.user_id,
                                    extra={"provider": provider.name, "retry_after": wait_s})
                        break
                    if error.status == 401 and not refreshed:
                        refreshed = True
                        try:
                            token = services.refresh_after_refusal(account, token)
                        except services.NeedsReauth:
                            break  # the refresh was refused: marked and notified
                        except (oauth.OAuth2Error, HttpError, CircuitOpen) as refresh_error:
                            result.failed, result.error = True, _short(refresh_error)
                            break
                        try:  # once more with the new token
                            fetched = provider.fetch(client, subscription, token)
                        except (HttpError, CircuitOpen, ProviderError) as again:
                            error = again
                        else:
                            error = None
                    if error is not None and getattr(error, "status", None) == 401:
                        poll.refused.append((account, "The provider refused the access token."))
                        break
                    if error is not None:
                        self._failed(subscription, error, poll)
                        continue
                except (CircuitOpen, ProviderError) as error:
                    self._failed(subscription, error, poll)
                    continue
                subscription.last_polled_at = now
                subscription.cursor = fetched.cursor[:255]
                subscription.etag = fetched.etag[:255]
                subscription.last_error = ""
                poll.polled.append(subscription)
                if fetched.items:
                    poll.found.append((subscription, fetched.items))
        finally:
            client.close()
        return budget

    def _failed(self, subscription, error, poll: UserPoll):
        subscription.last_error = _short(error)
        if error.permanent:
            # It will never work (deleted playlist, bad id): stop polling it; the user sees why.
            subscription.enabled = False
            logger.warning("disabled subscription %s: %s", subscription.pk, subscription.last_error,
                           extra={"subscription": subscription.pk})
        else:
            poll.result.failed, poll.result.error = True, subscription.last_error
        poll.polled.append(subscription)

    # --- write a batch (in the main thread) --------------------------------------------------

    def write(self, polls: list[UserPoll]) -> None:
        """Store what the batch found and release its users, in one transaction. Should that
        fail, each user is written on their own; a user whose own write fails is released as a
        failed poll (an error even then, e.g. the database is gone, propagates)."""
        try:
            self._write(polls)
            return
        except Exception as error:
            if len(polls) > 1:
                logger.exception("writing a batch of %d users failed; writing them one at a time", len(polls))
            else:
                poll = polls[0]
                logger.exception("storing what polling user %s found failed", poll.result.user_id,
                                 extra={"user_id": poll.result.user_id})
                poll.fail(error)
                self._write(polls)
                return
        for poll in polls:
            self.write([poll])

    def _write(self, polls: list[UserPoll]) -> None:
        items = self._new_items(polls)  # built before the transaction: SQLite's write lock is held less
        # Items, cursors, notifications and releases together: a cursor never moves past items
        # that were not stored, and nobody is told about items that are not there.
        with transaction.atomic():
            stored = Counter(_insert_feed_items(items))
            for poll in polls:
                poll.result.items_found = stored[poll.result.user_id]
            _update_rows(Subscription, ("cursor", "etag", "last_polled_at", "last_error", "enabled"), [
                (s.pk, (s.cursor, s.etag, s.last_polled_at, s.last_error, s.enabled)) for poll in polls for s in poll.polled
            ])
            for poll in polls:
                for account, why in poll.refused:
                    services.mark_needs_reauth(account, why)
            self._notify(polls)
            self._release(polls)

    def _new_items(self, polls: list[UserPoll]) -> list[tuple]:
        """The FeedItem rows of everything the batch's providers returned, once each."""
        now = timezone.now()
        seen, rows = set(), []
        for poll in polls:
            for subscription, items in poll.found:
                for item in items:
                    external_id = item.external_id[:255]
                    if (subscription.pk, external_id) in seen:
                        continue  # a provider page may list one item twice
                    seen.add((subscription.pk, external_id))
                    rows.append((subscription.pk, poll.result.user_id, external_id, item.title[:500], item.url[:1000],
                                 item.published_at, item.raw, now))
        return rows

    def _notify(self, polls: list[UserPoll]) -> None:
        """One new-items notification to each user of the batch who got some, in one call."""
        link = reverse("subscriptions_feed")
        notify_many([
            NewNotification(poll.result.user_id, "subscriptions.new_items", f"{count} new items in your feed",
                            link=link, payload={"count": count})
            for poll in polls if (count := poll.result.items_found)
        ])

    def _release(self, polls: list[UserPoll]) -> None:
        now = timezone.now()
        rows = []
        for poll in polls:
            schedule, result = poll.schedule, poll.result
            failures = schedule.consecutive_failures + 1 if result.failed else 0
            if result.failed:
                next_poll_at = now + timedelta(seconds=backoff_seconds(failures))
            elif result.not_before:
                next_poll_at = result.not_before
            else:
                next_poll_at = now + timedelta(seconds=schedule.interval_seconds)
            rows.append((schedule.pk, (None, "", next_poll_at, now, poll.duration_ms, result.items_found, failures,
                                       result.error[:ERROR_MAX], schedule.rate_window_started_at,
                                       schedule.rate_window_calls)))
        released = _update_rows(
            PollSchedule,
            ("locked_until", "locked_by", "next_poll_at", "last_finished_at", "last_duration_ms", "last_items_found",
             "consecutive_failures", "last_error", "rate_window_started_at", "rate_window_calls"),
            rows, where={"locked_by": self.worker},
        )
        if released < len(polls):
            logger.warning("lost the lease on %d of %d users before finishing", len(polls) - released, len(polls))


#: FeedItem's columns in the order of Poller._new_items' rows.
FEED_ITEM_FIELDS = ("subscription", "user", "external_id", "title", "url", "published_at", "raw", "created_at")
#: Rows per INSERT on SQLite: well under its 32,766 parameters.
INSERT_ROWS = 500

# The batch statements below are written out rather than built by the ORM: `bulk_create` and
# `bulk_update` spent most of a batch's write preparing each field of each object (bulk_update
# with CASE expressions whose cost grows with rows × fields), and a poller run is CPU-bound.
# On PostgreSQL each statement takes one array per column and UNNESTs it, as Django 5.2's own
# bulk_create does: psycopg parses a statement with more than 50 parameters anew every time
# (it caches only small ones), which made a multi-row VALUES cost more than its rows.


def _unnest(db, fields) -> str:
    """PostgreSQL: one array parameter per field, as rows (varchar(255) → varchar[], so
    nothing is truncated here)."""
    return "UNNEST({})".format(", ".join(f"(%s)::{field.db_type(db).split('(')[0]}[]" for field in fields))


def _insert_feed_items(rows: list[tuple]) -> list[int]:
    """Insert FeedItem rows (in FEED_ITEM_FIELDS order), skipping those already stored (the
    unique subscription + external id, which is also what keeps two polls from storing an item
    twice); returns the user id of each row inserted, so no query is needed first to find what
    was stored already (bulk_create's `ignore_conflicts` cannot say which rows it skipped).
    ON CONFLICT DO NOTHING skips only the unique key's conflicts (SQLite's INSERT OR IGNORE,
    bulk_create's there, also drops rows breaking other constraints). PostgreSQL and SQLite
    ≥ 3.35 (Harbor's minimum) both have RETURNING."""
    if not rows:
        return []
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: `connection` is a proxy, per attribute
    meta, quote = FeedItem._meta, db.ops.quote_name
    fields = [meta.get_field(name) for name in FEED_ITEM_FIELDS]
    unique = ", ".join(quote(meta.get_field(name).column) for name in ("subscription", "external_id"))
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) {{}} "
           f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(meta.get_field('user').column)}")
    # What the fields' get_db_prep_save does with these values (aware datetimes, dicts).
    datetime, json, encoder = db.ops.adapt_datetimefield_value, db.ops.adapt_json_value, meta.get_field("raw").encoder
    prepared = [
        (subscription_id, user_id, external_id, title, url, datetime(published_at), json(data, encoder),
         datetime(created_at))
        for subscription_id, user_id, external_id, title, url, published_at, data, created_at in rows
    ]
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute(sql.format(f"SELECT * FROM {_unnest(db, fields)}"), [list(column) for column in zip(*prepared)])
            return [user_id for (user_id,) in cursor.fetchall()]
        inserted = []
        for start in range(0, len(prepared), INSERT_ROWS):
            chunk = prepared[start:start + INSERT_ROWS]
            cursor.execute(sql.format("VALUES " + ", ".join([f"({', '.join(['%s'] * len(fields))})"] * len(chunk))),
                           [value for row in chunk for value in row])
            inserted += [user_id for (user_id,) in cursor.fetchall()]
        return inserted


def _update_rows(model, fields: tuple[str, ...], rows: list[tuple], *, where: dict | None = None) -> int:
    """Set `fields` of each row in `rows`, a list of (pk, values in the order of `fields`), in
    one statement: an UPDATE … FROM UNNEST on PostgreSQL, one prepared statement executed with
    a row of parameters each on SQLite. A row is updated only where it also matches `where`
    (field = value). Returns how many rows were updated."""
    if not rows:
        return 0
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: `connection` is a proxy, per attribute
    meta, quote = model._meta, db.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    conditions = [(meta.get_field(name), value) for name, value in (where or {}).items()]
    extra = [c.get_db_prep_save(value, db) for c, value in conditions]
    prepared = [
        [meta.pk.get_db_prep_save(pk, db), *(c.get_db_prep_save(value, db) for c, value in zip(columns, values))]
        for pk, values in rows
    ]
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            names = ["pk", *(f"v{n}" for n in range(len(columns)))]
            cursor.execute(
                f"UPDATE {table} SET {', '.join(f'{quote(c.column)} = v.v{n}' for n, c in enumerate(columns))} "
                f"FROM {_unnest(db, [meta.pk, *columns])} AS v({', '.join(names)}) WHERE {table}.{pk} = v.pk"
                + "".join(f" AND {table}.{quote(c.column)} = %s" for c, _ in conditions),
                [*(list(column) for column in zip(*prepared)), *extra],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {', '.join(f'{quote(c.column)} = %s' for c in columns)} WHERE {pk} = %s"
                + "".join(f" AND {quote(c.column)} = %s" for c, _ in conditions),
                [[*row[1:], row[0], *extra] for row in prepared],
            )
        return cursor.rowcount

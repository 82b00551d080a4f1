"""The poller: claims due users with a lease, polls their subscriptions, stores new items in
bulk and reschedules them. `manage.py poll_subscriptions` only parses arguments around it.

    poller = Poller(concurrency=4)
    summary = poller.run_once()     # every user due now, in batches of `concurrency`

Claims are conditional UPDATEs of PollSchedule rows (free = no lease or an expired one); on
PostgreSQL the candidates are first read FOR UPDATE SKIP LOCKED, so overlapping runs pick
different users instead of queueing on the same rows. The UPDATE's own condition is what makes
it correct (SQLite ignores SKIP LOCKED), so two runs never poll the same user at once.
"""

import logging
import os
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from project.resilience.breaker import CircuitOpen
from project.resilience.http import HttpError
from project.resilience.retry import parse_retry_after

from . import oauth, services
from .models import FeedItem, PollRun, PollSchedule, ProviderAccount, Subscription
from .providers import ProviderError, get_provider

logger = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=1)
ERROR_MAX = 500


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
    def __init__(self, *, concurrency: int = 1, user_ids=None, worker: str | None = None,
                 should_stop=lambda: False, on_progress=lambda state: None):
        self.concurrency = max(1, concurrency)
        #: --user: poll these users even when not due (still never while another run holds them).
        self.user_ids = list(user_ids) if user_ids else None
        self.worker = worker or worker_name()
        self.should_stop = should_stop
        self.on_progress = on_progress
        self._cutoff = None
        #: Database connections the worker threads kept between users (SQLite), closed at the end.
        self._kept = set()

    # --- the run ---------------------------------------------------------------------------

    def due(self):
        now = timezone.now()
        free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        rows = PollSchedule.objects.filter(free)
        if self.user_ids is not None:
            return rows.filter(user_id__in=self.user_ids)
        # Due when the run started: a user whose interval is shorter than the run is left for
        # the next run instead of keeping this one busy forever.
        return rows.filter(next_poll_at__lte=min(now, self._cutoff or now))

    def run_once(self) -> RunSummary:
        """Poll every user due now, `concurrency` at a time; record a PollRun when work was found."""
        started, started_at = time.monotonic(), timezone.now()
        self._cutoff = started_at
        summary = RunSummary()
        executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="poll") if self.concurrency > 1 else None
        try:
            while not self.should_stop():
                results = self.step(executor)
                if not results:
                    break
                for result in results:
                    summary.users_polled += 1
                    summary.items_found += result.items_found
                    summary.failures += result.failed
                    summary.users.append(result.user_id)
                self.on_progress(f"polled {summary.users_polled} users")
                if self.user_ids is not None and set(summary.users) >= set(self.user_ids):
                    break  # --user: each named user once, even if polling made them due again
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
        """Claim up to `concurrency` users and poll them; [] when nobody is due."""
        schedules = self.claim(self.concurrency)
        if self.user_ids is not None:
            schedules = [s for s in schedules if s.user_id in self.user_ids]
        if executor is None:
            return [self.poll_and_release(schedule) for schedule in schedules]
        return list(executor.map(self._in_thread, schedules))

    def _in_thread(self, schedule):
        try:
            return self.poll_and_release(schedule)
        finally:
            # Per CONN_MAX_AGE, like a request's end: on PostgreSQL (0) the thread's connection
            # goes back to the pool; a SQLite connection is kept for the thread's next user
            # (opening one per user was a tenth of the poller's time in bench/poller.py) and
            # closed by run_once at the end. A broken one is closed either way.
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

    def poll_and_release(self, schedule: PollSchedule) -> UserResult:
        started = time.monotonic()
        try:
            result = self.poll_user(schedule)
        except Exception as error:  # one bad user must not stop the run
            logger.exception("polling user %s failed", schedule.user_id, extra={"user_id": schedule.user_id})
            result = UserResult(schedule.user_id, failed=True, error=_short(error))
        self.release(schedule, result, round((time.monotonic() - started) * 1000))
        return result

    # --- one user --------------------------------------------------------------------------

    def poll_user(self, schedule: PollSchedule) -> UserResult:
        result = UserResult(schedule.user_id)
        now = timezone.now()
        if schedule.rate_window_started_at is None or schedule.rate_window_started_at + RATE_WINDOW <= now:
            schedule.rate_window_started_at, schedule.rate_window_calls = now, 0
        budget = settings.SUBSCRIPTIONS_USER_CALLS_PER_MINUTE - schedule.rate_window_calls

        subscriptions = list(
            Subscription.objects.filter(
                account__user_id=schedule.user_id, account__status=ProviderAccount.Status.ACTIVE, enabled=True
            ).select_related("account__user").order_by("account_id", "created_at", "id")
        )
        polled: list[Subscription] = []
        found: list[tuple[Subscription, list]] = []
        for account_id, group in groupby(subscriptions, key=lambda s: s.account_id):
            group = list(group)
            if budget <= 0 or result.not_before:
                break
            budget = self._poll_account(group[0].account, group, budget, result, polled, found)
        schedule.rate_window_calls += result.calls
        if budget <= 0 and len(polled) < len(subscriptions) and not result.not_before:
            result.not_before = schedule.rate_window_started_at + RATE_WINDOW  # the rest after this minute
        # Items, cursors and the notification together: a cursor never moves past items that
        # were not stored, and nobody is told about items that are not there.
        with transaction.atomic():
            result.items_found = self._store(schedule.user_id, found)
            # One UPDATE per subscription: for a user's few rows, bulk_update's CASE expressions
            # cost five times the CPU (1.4 ms against 0.27 ms for three rows), and a poller run
            # is CPU-bound (bench/poller.py).
            for subscription in polled:
                Subscription.objects.filter(pk=subscription.pk).update(
                    cursor=subscription.cursor, etag=subscription.etag, last_polled_at=subscription.last_polled_at,
                    last_error=subscription.last_error, enabled=subscription.enabled,
                )
            if result.items_found:
                services.notify_user(
                    subscriptions[0].account.user, "subscriptions.new_items",
                    title=f"{result.items_found} new items in your feed", link=reverse("subscriptions_feed"),
                    payload={"count": result.items_found},
                )
        return result

    def _poll_account(self, account, subscriptions, budget, result, polled, found) -> int:
        """Poll one account's subscriptions; returns the budget left."""
        try:
            token = services.fresh_access_token(account)
        except services.NeedsReauth:
            return budget  # marked and notified; nothing to poll until the user reconnects
        except (oauth.OAuth2Error, HttpError, CircuitOpen) as error:
            result.failed, result.error = True, _short(error)
            return budget
        provider = get_provider(account.provider)
        client = provider.api_client()
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
                        wait = parse_retry_after(error.retry_after)
                        result.not_before = now + timedelta(seconds=wait if wait is not None else 60)
                        logger.info("%s rate-limits user %s", provider.name, result.user_id,
                                    extra={"provider": provider.name, "retry_after": wait})
                        break
                    if error.status == 401:
                        services.mark_needs_reauth(account, "The provider refused the access token.")
                        break
                    self._failed(subscription, error, result, polled)
                    continue
                except (CircuitOpen, ProviderError) as error:
                    self._failed(subscription, error, result, polled)
                    continue
                subscription.last_polled_at = now
                subscription.cursor = fetched.cursor[:255]
                subscription.etag = fetched.etag[:255]
                subscription.last_error = ""
                polled.append(subscription)
                if fetched.items:
                    found.append((subscription, fetched.items))
        finally:
            client.close()
        return budget

    def _failed(self, subscription, error, result, polled):
        subscription.last_error = _short(error)
        if error.permanent:
            # It will never work (deleted playlist, bad id): stop polling it; the user sees why.
            subscription.enabled = False
            logger.warning("disabled subscription %s: %s", subscription.pk, subscription.last_error,
                           extra={"subscription": subscription.pk})
        else:
            result.failed, result.error = True, subscription.last_error
        polled.append(subscription)

    def _store(self, user_id: int, found) -> int:
        """Insert the items not stored yet, in one query (plus one to find what exists)."""
        if not found:
            return 0
        external_ids = {item.external_id for _, items in found for item in items}
        existing = set(
            FeedItem.objects.filter(subscription_id__in=[s.pk for s, _ in found], external_id__in=external_ids)
            .values_list("subscription_id", "external_id")
        )
        now = timezone.now()
        new = []
        for subscription, items in found:
            for item in items:
                key = (subscription.pk, item.external_id)
                if key in existing:
                    continue
                existing.add(key)  # a provider page may list one item twice
                new.append(FeedItem(
                    subscription=subscription, user_id=user_id, external_id=item.external_id[:255],
                    title=item.title[:500], url=item.url[:1000], published_at=item.published_at, raw=item.raw,
                    created_at=now,
                ))
        # ignore_conflicts: the unique key is the last word should anything slip past the lease.
        FeedItem.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
        return len(new)

    def release(self, schedule: PollSchedule, result: UserResult, duration_ms: int) -> None:
        now = timezone.now()
        failures = schedule.consecutive_failures + 1 if result.failed else 0
        if result.failed:
            next_poll_at = now + timedelta(seconds=backoff_seconds(failures))
        else:
            next_poll_at = now + timedelta(seconds=schedule.interval_seconds)
        if result.not_before and not result.failed:
            next_poll_at = result.not_before
        released = PollSchedule.objects.filter(pk=schedule.pk, locked_by=self.worker).update(
            locked_until=None, locked_by="", next_poll_at=next_poll_at, last_finished_at=now,
            last_duration_ms=duration_ms, last_items_found=result.items_found, consecutive_failures=failures,
            last_error=result.error[:ERROR_MAX], rate_window_started_at=schedule.rate_window_started_at,
            rate_window_calls=schedule.rate_window_calls,
        )
        if not released:
            logger.warning("lost the lease on user %s before finishing", schedule.user_id,
                           extra={"user_id": schedule.user_id})

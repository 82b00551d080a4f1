"""The engine of `manage.py deliver_webhooks`: each active endpoint follows its tenant's events
in the event log from its own cursor, one event at a time, in order.

- **Leases.** A process takes due endpoints with one conditional UPDATE (free or expired lease
  → its token, WEBHOOK_LEASE_SECONDS), renews the lease after each attempt, and every later
  write is conditional on the token: several copies run side by side, a process killed
  mid-delivery loses its endpoints when the lease expires, and the next one sends the event
  again (at least once; receivers deduplicate by `webhook-id`, the event's id).
- **Order.** The cursor moves past an event only after a 2xx for it; a failure stops that
  endpoint until its next attempt (exponential backoff with jitter, or the `Retry-After` it
  asked for), so nothing overtakes it.
- **Holes.** On PostgreSQL a transaction may commit an event after a later id is visible: the
  endpoints read only up to the `horizon`, below the first hole younger than
  WEBHOOK_GAP_GRACE_SECONDS (older holes are rolled-back inserts, as the dispatcher assumes).
- **Isolation.** Each endpoint taken is served by a thread of its own with a timeout per
  attempt, behind its own circuit breaker: a slow or dead endpoint holds one thread at most
  WEBHOOK_TIMEOUT_SECONDS per attempt, never Harbor's requests or the other endpoints.
- **Giving up.** An endpoint failing the same event for WEBHOOK_GIVE_UP_SECONDS (or answering
  410 Gone) is disabled, and its tenant's owners and its creator are told in the app and by email.
"""

import json
import logging
import random
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import close_old_connections, connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from notifications.models import Kind
from notifications.services import notify
from project.accounts.models import Membership, User
from project.realtime.models import Event
from project.resilience import breaker
from project.resilience.breaker import CircuitOpen
from project.resilience.models import DependencyState
from project.resilience.outbound import OutboundAddressRefused, guarded_session
from project.resilience.retry import parse_retry_after

from . import signing
from .models import Delivery, Endpoint
from .payloads import event_payload, truncated_payload
from .services import signing_secrets, wants

logger = logging.getLogger(__name__)

EXCERPT_MAX = Delivery._meta.get_field("response_excerpt").max_length
USER_AGENT = f"Harbor-Webhooks/{settings.HARBOR_VERSION}"
_rng = random.Random()


# --- The horizon ------------------------------------------------------------------------------

def horizon(now=None) -> int:
    """The highest event id below which every event is visible (or its hole old enough to be a
    rolled-back insert). One index range over the last WEBHOOK_GAP_GRACE_SECONDS of the log and
    one primary-key lookup, however long the log."""
    now = now or timezone.now()
    recent = list(Event.objects.filter(created_at__gte=now - timedelta(seconds=settings.WEBHOOK_GAP_GRACE_SECONDS))
                  .order_by("id").values_list("id", flat=True))
    if not recent:
        return Event.objects.aggregate(latest=Max("id"))["latest"] or 0
    below = Event.objects.filter(id__lt=recent[0]).aggregate(latest=Max("id"))["latest"]
    reached = recent[0] - 1 if below is None else below
    for event_id in recent:
        if event_id != reached + 1 and not (below is None and event_id == recent[0]):
            break
        reached = event_id
    return reached


# --- One attempt ------------------------------------------------------------------------------

@dataclass
class Attempt:
    ok: bool
    status: int | None = None
    excerpt: str = ""
    error: str = ""
    duration_ms: int | None = None
    retry_after: float | None = None
    permanent: bool = False  # 410 Gone: the receiver says the endpoint is no more


_sessions = threading.local()


def _session() -> requests.Session:
    # A Session is not thread-safe: one per delivery thread, kept for connection reuse.
    if getattr(_sessions, "session", None) is None:
        _sessions.session = guarded_session()
    return _sessions.session


def send(endpoint: Endpoint, webhook_id: str, payload: dict) -> Attempt:
    """POST `payload` signed to `endpoint`, once, through its circuit breaker (CircuitOpen is
    raised before anything is sent)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    if getattr(endpoint, "_keys", None) is None:  # decrypted once per lease, not per event
        endpoint._keys = signing_secrets(endpoint)
    headers = {
        **signing.headers(endpoint._keys, webhook_id, int(time.time()), body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    name = endpoint.dependency
    trial = breaker.before_call(name)
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.monotonic()
    try:
        response = _session().post(endpoint.url, data=body, headers=headers, timeout=(min(3.05, timeout), timeout),
                                   allow_redirects=False, stream=True)
        try:
            # Only the first bytes are kept, so only they are read: a huge answer costs nothing.
            head = response.raw.read(EXCERPT_MAX, decode_content=True) or b""
        finally:
            response.close()
    except OutboundAddressRefused as error:
        if trial:
            breaker.record_failure(name, "refused", None, trial=True)
        return Attempt(False, error=str(error)[:300], permanent=False)
    except (requests.RequestException, OSError) as error:
        elapsed = (time.monotonic() - started) * 1000
        reason = type(error).__name__
        breaker.record_failure(name, reason, elapsed, trial=trial)
        return Attempt(False, error=reason, duration_ms=int(elapsed))
    except BaseException:
        if trial:
            breaker.record_failure(name, "trial interrupted", None, trial=True)
        raise
    elapsed = (time.monotonic() - started) * 1000
    status = response.status_code
    excerpt = head.decode("utf-8", "replace")[:EXCERPT_MAX]
    if status == 429 or status >= 500:
        breaker.record_failure(name, f"HTTP {status}", elapsed, trial=trial)
    else:  # it answered: the breaker's business is whether it is up
        breaker.record_success(name, elapsed, trial=trial)
    return Attempt(
        200 <= status < 300, status, excerpt, "" if 200 <= status < 300 else f"HTTP {status}", int(elapsed),
        retry_after=parse_retry_after(response.headers.get("Retry-After")), permanent=status == 410,
    )


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts` + 1: jittered in [base, min(cap, base * 2**(attempts-1))]."""
    base, cap = settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_CAP_SECONDS
    return _rng.uniform(base, max(base, min(cap, base * 2 ** (attempts - 1))))


# --- Claims -----------------------------------------------------------------------------------

def _free(now) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def claim(limit: int, upto: int, exclude=()) -> list[Endpoint]:
    """Take up to `limit` endpoints with something to send now, under a new lease."""
    now = timezone.now()
    has_events = Exists(Event.objects.filter(tenant_id=OuterRef("tenant_id"), id__gt=OuterRef("cursor"), id__lte=upto))
    has_manual = Exists(Delivery.objects.filter(endpoint=OuterRef("pk"), status=Delivery.Status.PENDING))
    due = Q(status=Endpoint.Status.ACTIVE, next_attempt_at__lte=now) & (Q(has_events) | Q(events_pruned=True))
    candidates = list(Endpoint.objects.filter(_free(now)).filter(due | Q(has_manual)).exclude(pk__in=list(exclude))
                      .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    if not candidates:
        return []
    token = secrets.token_hex(16)
    # The lease condition again in the UPDATE: of two processes that read the same candidates,
    # the second one's UPDATE finds them leased (PostgreSQL re-checks the row it waited for).
    Endpoint.objects.filter(pk__in=candidates).filter(_free(now)).update(
        lease_token=token, leased_until=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS))
    return list(Endpoint.objects.filter(lease_token=token).select_related("tenant"))


def _held(endpoint: Endpoint):
    return Endpoint.objects.filter(pk=endpoint.pk, lease_token=endpoint.lease_token)


def _renewed() -> dict:
    return {"leased_until": timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)}


# --- Serving one endpoint ---------------------------------------------------------------------

@dataclass
class Served:
    sent: int = 0
    failed: int = 0
    disabled: int = 0
    endpoints: set = field(default_factory=set)

    def add(self, other: "Served") -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.disabled += other.disabled
        self.endpoints |= other.endpoints

    def line(self) -> str:
        return f"Delivered {self.sent}, failed {self.failed}, disabled {self.disabled} endpoints."


def serve(endpoint: Endpoint, upto: int) -> Served:
    """Send what is due to one leased endpoint: its manual deliveries, then its events after the
    cursor (at most WEBHOOK_BATCH_SIZE), stopping at the first failure. Gives the lease back."""
    served = Served(endpoints={endpoint.pk})
    try:
        _serve_manual(endpoint, served)
        if endpoint.status == Endpoint.Status.ACTIVE and endpoint.next_attempt_at <= timezone.now():
            _serve_events(endpoint, upto, served)
    except CircuitOpen as error:
        _held(endpoint).update(next_attempt_at=timezone.now() + timedelta(seconds=error.retry_in))
    finally:
        _held(endpoint).update(leased_until=None, lease_token="")
    return served


def _serve_manual(endpoint: Endpoint, served: Served) -> None:
    pending = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).order_by("id")
    for delivery in pending[: settings.WEBHOOK_BATCH_SIZE]:
        try:
            attempt = send(endpoint, delivery.webhook_id, delivery.payload)
        except CircuitOpen as error:
            attempt = Attempt(False, error=f"The endpoint's circuit is open: no request sent (retry in {error.retry_in:.0f} s).")
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.SUCCEEDED if attempt.ok else Delivery.Status.FAILED,
            response_status=attempt.status, response_excerpt=attempt.excerpt, error=attempt.error,
            duration_ms=attempt.duration_ms, created_at=timezone.now())
        _held(endpoint).update(**_renewed())
        served.sent += attempt.ok
        served.failed += not attempt.ok


#: The cursor and the log of successful deliveries are written once per this many events or
#: this many seconds (one commit instead of two per event: on PostgreSQL the commits were most
#: of a delivery's time). A process that dies in between resends those few: at least once.
FLUSH_EVERY = 20
FLUSH_SECONDS = 1.0


class _Progress:
    """What went through since the last write: the log rows and how far the cursor moved."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.rows: list[Delivery] = []
        self.cursor: int | None = None
        self.delivered_at = None
        self.since = time.monotonic()

    def add(self, cursor: int, row: Delivery | None = None) -> bool:
        """Record progress; returns False when a flush found the lease lost."""
        self.cursor = cursor
        if row is not None:
            self.rows.append(row)
            self.delivered_at = row.created_at
        if len(self.rows) >= FLUSH_EVERY or time.monotonic() - self.since >= FLUSH_SECONDS:
            return self.flush()
        return True

    def flush(self) -> bool:
        self.since = time.monotonic()
        if self.cursor is None:
            return True
        values = {"last_delivery_at": self.delivered_at} if self.delivered_at else {}
        with transaction.atomic():
            Delivery.objects.bulk_create(self.rows)
            moved = _advance(self.endpoint, self.cursor, **values)
        self.rows, self.cursor, self.delivered_at = [], None, None
        return moved


def _serve_events(endpoint: Endpoint, upto: int, served: Served) -> None:
    if endpoint.events_pruned:
        webhook_id = f"truncated_{endpoint.pk}_{endpoint.cursor}"
        attempt = send(endpoint, webhook_id, truncated_payload(endpoint, endpoint.cursor))
        _log(endpoint, Delivery.Kind.MARKER, webhook_id, "replay.truncated", None, attempt)
        if not attempt.ok:
            _failed(endpoint, attempt, served)
            return
        _held(endpoint).update(events_pruned=False, **_renewed())
        served.sent += 1
    events = (Event.objects.filter(tenant_id=endpoint.tenant_id, id__gt=endpoint.cursor, id__lte=upto)
              .order_by("id")[: settings.WEBHOOK_BATCH_SIZE])
    progress = _Progress(endpoint)
    for event in events:
        if not wants(endpoint, event.type):
            if not progress.add(event.pk):
                return
            continue
        try:
            attempt = send(endpoint, str(event.pk), event_payload(event))
        except CircuitOpen:  # opened by another process meanwhile: keep what went through
            progress.flush()
            raise
        row = _row(endpoint, Delivery.Kind.EVENT, str(event.pk), event.type, event.pk, attempt)
        if not attempt.ok:
            if not progress.flush():
                return
            row.save()
            _failed(endpoint, attempt, served)
            return
        served.sent += 1
        if not progress.add(event.pk, row):
            return
    progress.flush()


def _advance(endpoint: Endpoint, cursor: int, **values) -> bool:
    """Move the cursor past `cursor`; False when the lease was lost (another process owns the
    endpoint now: stop, it resends from its own read of the cursor)."""
    moved = _held(endpoint).update(cursor=cursor, attempts=0, failing_since=None, last_error="", **values, **_renewed())
    endpoint.cursor, endpoint.attempts, endpoint.failing_since = cursor, 0, None
    return moved == 1


def _row(endpoint, kind, webhook_id, event_type, event_id, attempt: Attempt) -> Delivery:
    return Delivery(
        endpoint=endpoint, kind=kind, status=Delivery.Status.SUCCEEDED if attempt.ok else Delivery.Status.FAILED,
        webhook_id=webhook_id, event_type=event_type, event_id=event_id, attempt=endpoint.attempts + 1,
        response_status=attempt.status, response_excerpt=attempt.excerpt, error=attempt.error,
        duration_ms=attempt.duration_ms, created_at=timezone.now())


def _log(endpoint, kind, webhook_id, event_type, event_id, attempt: Attempt) -> None:
    _row(endpoint, kind, webhook_id, event_type, event_id, attempt).save()


def _failed(endpoint: Endpoint, attempt: Attempt, served: Served) -> None:
    served.failed += 1
    now = timezone.now()
    attempts = endpoint.attempts + 1
    failing_since = endpoint.failing_since or now
    give_up = timedelta(seconds=settings.WEBHOOK_GIVE_UP_SECONDS)
    if attempt.permanent or now - failing_since >= give_up:
        reason = ("The endpoint answered 410 Gone." if attempt.permanent else
                  f"Every attempt failed for {_human(give_up)} (last: {attempt.error}).")
        _disable(endpoint, reason, attempts, failing_since, attempt.error)
        served.disabled += 1
        return
    delay = backoff(attempts)
    if attempt.retry_after is not None:
        delay = min(attempt.retry_after, settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS)
    _held(endpoint).update(attempts=attempts, failing_since=failing_since, last_error=attempt.error,
                           next_attempt_at=now + timedelta(seconds=delay))


def _human(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} seconds"


def _disable(endpoint: Endpoint, reason: str, attempts: int, failing_since, error: str) -> None:
    with transaction.atomic():
        if not _held(endpoint).filter(status=Endpoint.Status.ACTIVE).update(
                status=Endpoint.Status.DISABLED, disabled_reason=reason[:300], attempts=attempts,
                failing_since=failing_since, last_error=error, updated_at=timezone.now()):
            return
        owners = User.objects.filter(
            Q(memberships__tenant_id=endpoint.tenant_id, memberships__role=Membership.Role.OWNER) | Q(pk=endpoint.created_by_id),
            is_active=True).distinct()
        link = reverse("webhook_detail", args=(endpoint.tenant_id, endpoint.pk))
        title = f"Webhook disabled: {endpoint.url}"
        body = f"{reason} Nothing more is sent to it until it is resumed; it then continues where it stopped."
        recipients = list(owners)
        notify(recipients, Kind.WEBHOOK_DISABLED, title=title, body=body, link=link,
               payload={"endpoint_id": endpoint.pk, "url": endpoint.url}, tenant_id=endpoint.tenant_id)
        for user in recipients:  # the outbox: sent by send_email once this commits
            send_mail(title, f"{body}\n\n{settings.SITE_URL}{link}", None, [user.email])
    logger.warning("webhook endpoint disabled", extra={"endpoint": endpoint.pk, "reason": reason})


# --- The process ------------------------------------------------------------------------------

class Deliverer:
    """Serves leased endpoints on WEBHOOK_CONCURRENCY threads; the calling thread claims."""

    def __init__(self, concurrency: int | None = None):
        self.concurrency = concurrency or settings.WEBHOOK_CONCURRENCY
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook")
        self.running: dict = {}  # future → endpoint id
        self.total = Served()

    def turn(self, wait_seconds: float = 0.5) -> bool:
        """Claim endpoints for the free threads, then wait (at most `wait_seconds`) for one to
        finish. Returns whether there was anything to do (claimed, finished or still running)."""
        claimed = []
        free = self.concurrency - len(self.running)
        if free > 0:
            upto = horizon()
            claimed = claim(free, upto, exclude=self.running.values())
            for endpoint in claimed:
                self.running[self.pool.submit(_serve_in_thread, endpoint, upto)] = endpoint.pk
        finished = self._reap(wait_seconds if self.running else 0)
        # While endpoints are being served, the wait above paces the loop: a finished one is
        # claimed again at once instead of after the idle sleep.
        return bool(claimed or finished or self.running)

    def _reap(self, timeout: float) -> int:
        if not self.running:
            return 0
        done, _ = wait(list(self.running), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            self.running.pop(future)
            try:
                self.total.add(future.result())
            except Exception:
                logger.exception("webhook delivery failed")
        return len(done)

    def drain(self) -> None:
        while self.running:
            self._reap(1.0)

    def close(self) -> None:
        self.drain()
        self.pool.shutdown(wait=True)


def _serve_in_thread(endpoint: Endpoint, upto: int) -> Served:
    close_old_connections()
    try:
        return serve(endpoint, upto)
    finally:
        # The thread's connection goes back (to psycopg's pool on PostgreSQL): a thread of the
        # pool may sit idle for long, and an open connection there would outlive the worker.
        connection.close()


def deliver_once(concurrency: int | None = None) -> Served:
    """Everything due now, then return (`deliver_webhooks` without --loop, the tests)."""
    deliverer = Deliverer(concurrency)
    try:
        while deliverer.turn():
            pass
        deliverer.drain()
    finally:
        deliverer.close()
    return deliverer.total


# --- Health -----------------------------------------------------------------------------------

#: An endpoint due this long ago and not taken means no deliver_webhooks keeps up.
OVERDUE_SECONDS = 60


def webhooks_health() -> dict:
    """Degraded when due deliveries wait for no worker. A tenant's failing or disabled endpoint
    is its owners' to fix (they are notified), not Harbor's health: it only shows in the counts."""
    now = timezone.now()
    counts = {status: Endpoint.objects.filter(status=status).count() for status in Endpoint.Status.values}
    failing = Endpoint.objects.filter(status=Endpoint.Status.ACTIVE, failing_since__isnull=False).count()
    open_breakers = DependencyState.objects.filter(name__startswith="webhook.").exclude(state="closed").count()
    has_events = Exists(Event.objects.filter(tenant_id=OuterRef("tenant_id"), id__gt=OuterRef("cursor")))
    overdue = Endpoint.objects.filter(
        has_events, status=Endpoint.Status.ACTIVE, leased_until__isnull=True,
        next_attempt_at__lt=now - timedelta(seconds=OVERDUE_SECONDS)).count()
    return {"status": "degraded" if overdue else "ok", **counts, "failing": failing, "open_breakers": open_breakers,
            "overdue": overdue}

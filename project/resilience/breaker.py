"""A circuit breaker per named dependency, shared by every process through the database.

closed --(BREAKER_FAILURE_THRESHOLD consecutive failures)--> open
open   --(BREAKER_OPEN_SECONDS later, one caller wins)-----> half_open (that caller's trial)
half_open --(trial succeeds)--> closed;  --(trial fails)--> open again

Every transition is a conditional UPDATE whose row count says who won (never check-then-act),
and no transaction or row lock is held across the outgoing call: `before_call` reads and
maybe claims, the call runs in autocommit, `record_success`/`record_failure` write one row.

A healthy dependency costs no query per call: a process that read the breaker closed with no
failures trusts that for BREAKER_CACHE_SECONDS and adds up its successes in memory, writing
them in one UPDATE per period. Without it every call read and updated the same row, which all
processes' calls queued on (the poller ran at half speed, bench/poller.py). So a breaker opened
by another process is seen here within that period, and a process that dies loses at most that
period's success counts; failures are always written at once.
"""

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import DependencyState

logger = logging.getLogger(__name__)

State = DependencyState.State
LAST_ERROR_MAX = 500
#: Weight of the newest response time in the moving average (about the last 10 calls count).
EMA_ALPHA = 0.2


class DependencyError(Exception):
    """Base of the errors an outgoing call raises. `permanent` says whether trying again later
    cannot help (a 4xx): callers disable the account or subscription on permanent errors."""

    permanent = False


class CircuitOpen(DependencyError):
    permanent = False

    def __init__(self, name: str, retry_in: float):
        self.name = name
        self.retry_in = retry_in
        super().__init__(f"circuit for {name} is open; retry in {retry_in:.1f} s")


def _open_for() -> timedelta:
    return timedelta(seconds=settings.BREAKER_OPEN_SECONDS)


def _log_transition(name, old, new, **fields):
    logger.warning(
        "breaker %s: %s → %s", name, old, new, extra={"dependency": name, "from_state": old, "to_state": new, **fields}
    )


class _HealthyInThisProcess:
    """Dependencies this process last read closed and failure-free, and their unwritten successes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: dict[str, float] = {}  # name → when read healthy (monotonic)
        self.successes: dict[str, list[float | None]] = {}  # name → response times not yet written
        self.since: dict[str, float] = {}  # name → when the first unwritten success came

    def trusted(self, name: str) -> bool:
        seen = self.seen.get(name)
        return seen is not None and time.monotonic() - seen < settings.BREAKER_CACHE_SECONDS

    def saw_healthy(self, name: str) -> None:
        if settings.BREAKER_CACHE_SECONDS > 0:
            with self.lock:
                self.seen[name] = time.monotonic()

    def add_success(self, name: str, elapsed_ms: float | None) -> list[float | None] | None:
        """Buffer a success; returns the buffered ones when they are due to be written."""
        with self.lock:
            buffered = self.successes.setdefault(name, [])
            buffered.append(elapsed_ms)
            first = self.since.setdefault(name, time.monotonic())
            if time.monotonic() - first < settings.BREAKER_CACHE_SECONDS:
                return None
            return self.take(name)

    def take(self, name: str) -> list[float | None]:
        """The unwritten successes (caller holds the lock or accepts a race on counts only)."""
        self.since.pop(name, None)
        return self.successes.pop(name, [])

    def forget(self, name: str) -> list[float | None]:
        with self.lock:
            self.seen.pop(name, None)
            return self.take(name)


_local = _HealthyInThisProcess()


def before_call(name: str) -> bool:
    """Decide whether a call to `name` may go out now. Returns True when this caller won the
    half-open trial (pass it on to `record_*`), False for a normal call; raises CircuitOpen
    otherwise. One SELECT (none while this process trusts a healthy read), plus one conditional
    UPDATE only when an open period has ended. Call it before every attempt: it creates the row
    that `record_*` update."""
    if _local.trusted(name):
        return False
    row, _ = DependencyState.objects.get_or_create(name=name)
    if row.state == State.CLOSED:
        if row.consecutive_failures == 0:
            _local.saw_healthy(name)
        return False
    now = timezone.now()
    # A half-open trial holds its claim for one open period: if its process died mid-call,
    # the next caller after that takes the trial over instead of the breaker sticking.
    ends = (row.opened_at or now) + _open_for()
    if now < ends:
        raise CircuitOpen(name, (ends - now).total_seconds())
    won = (
        DependencyState.objects.filter(name=name, state=row.state, opened_at=row.opened_at).update(
            state=State.HALF_OPEN, opened_at=now, updated_at=now
        )
        == 1
    )
    if not won:  # another process claimed the trial between our read and our update
        raise CircuitOpen(name, settings.BREAKER_OPEN_SECONDS)
    _log_transition(name, row.state, State.HALF_OPEN)
    return True


def _counters(now, elapsed_ms: float | None, calls: int = 1, **changes) -> dict:
    values = {"calls": F("calls") + calls, "updated_at": now, **changes}
    if elapsed_ms is not None:
        values["avg_response_ms"] = Coalesce(F("avg_response_ms"), Value(float(elapsed_ms))) * (
            1 - EMA_ALPHA
        ) + Value(EMA_ALPHA * float(elapsed_ms))
    return values


def record_success(name: str, elapsed_ms: float | None, *, trial: bool = False) -> None:
    """The dependency answered (2xx/3xx, or a 4xx other than 429: it is up, the request was
    wrong). A successful trial closes the breaker."""
    if not trial and _local.trusted(name):
        buffered = _local.add_success(name, elapsed_ms)
        if buffered is None:
            return
        times = [ms for ms in buffered if ms is not None]
        elapsed_ms, calls = (sum(times) / len(times) if times else None), len(buffered)
    else:
        calls = 1 + len(_local.forget(name))
    now = timezone.now()
    values = _counters(now, elapsed_ms, calls, consecutive_failures=0, last_success_at=now)
    if trial and DependencyState.objects.filter(name=name, state=State.HALF_OPEN).update(
        state=State.CLOSED, opened_at=None, **values
    ):
        _log_transition(name, State.HALF_OPEN, State.CLOSED)
        return
    # A normal success never changes the state: an open breaker reopens only by its trial.
    DependencyState.objects.filter(name=name).update(**values)


def record_failure(name: str, error: str, elapsed_ms: float | None = None, *, trial: bool = False) -> None:
    """The dependency failed (transport error, timeout, 429 or 5xx). Opens the breaker after
    BREAKER_FAILURE_THRESHOLD consecutive failures; a failed trial reopens it at once."""
    now = timezone.now()
    values = _counters(
        now,
        elapsed_ms,
        1 + len(_local.forget(name)),  # and the successes this process had not written yet
        failures=F("failures") + 1,
        consecutive_failures=F("consecutive_failures") + 1,
        last_error=error[:LAST_ERROR_MAX],
        last_error_at=now,
    )
    rows = DependencyState.objects.filter(name=name)
    if trial and rows.filter(state=State.HALF_OPEN).update(state=State.OPEN, opened_at=now, **values):
        _log_transition(name, State.HALF_OPEN, State.OPEN, error=error[:200])
        return
    # Exactly one of these two conditional UPDATEs matches the row as it is when it runs, so
    # concurrent failures from several processes open the breaker once, at the threshold.
    opens_now = Q(state=State.CLOSED, consecutive_failures__gte=settings.BREAKER_FAILURE_THRESHOLD - 1)
    for _ in range(3):
        if rows.filter(opens_now).update(state=State.OPEN, opened_at=now, **values):
            _log_transition(
                name, State.CLOSED, State.OPEN, consecutive_failures=settings.BREAKER_FAILURE_THRESHOLD, error=error[:200]
            )
            return
        if rows.exclude(opens_now).update(**values):
            return
    logger.error("breaker %s: could not record a failure", name, extra={"dependency": name})


def _as_dict(row: DependencyState) -> dict:
    return {
        "breaker": row.state,
        "consecutive_failures": row.consecutive_failures,
        "opened_at": row.opened_at,
        "calls": row.calls,
        "failures": row.failures,
        "last_error": row.last_error,
        "last_error_at": row.last_error_at,
        "last_success_at": row.last_success_at,
        "avg_response_ms": row.avg_response_ms,
        "updated_at": row.updated_at,
    }


def snapshot(name: str) -> dict | None:
    """State and counters of one dependency as a plain dict (None if never called)."""
    row = DependencyState.objects.filter(name=name).first()
    return _as_dict(row) if row else None


def snapshots() -> dict[str, dict]:
    """Every known dependency by name, for the health view."""
    return {row.name: _as_dict(row) for row in DependencyState.objects.all()}

"""A circuit breaker per named dependency, shared by every process through the database.

closed --(BREAKER_FAILURE_THRESHOLD consecutive failures)--> open
open   --(BREAKER_OPEN_SECONDS later, one caller wins)-----> half_open (that caller's trial)
half_open --(trial succeeds)--> closed;  --(trial fails)--> open again

Every transition is a conditional UPDATE whose row count says who won (never check-then-act),
and no transaction or row lock is held across the outgoing call: `before_call` reads and
maybe claims, the call runs in autocommit, `record_success`/`record_failure` write one row.
"""

import logging
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


def before_call(name: str) -> bool:
    """Decide whether a call to `name` may go out now. Returns True when this caller won the
    half-open trial (pass it on to `record_*`), False for a normal call; raises CircuitOpen
    otherwise. One SELECT, plus one conditional UPDATE only when an open period has ended.
    Call it before every attempt: it creates the row that `record_*` update."""
    row, _ = DependencyState.objects.get_or_create(name=name)
    if row.state == State.CLOSED:
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


def _counters(now, elapsed_ms: float | None, **changes) -> dict:
    values = {"calls": F("calls") + 1, "updated_at": now, **changes}
    if elapsed_ms is not None:
        values["avg_response_ms"] = Coalesce(F("avg_response_ms"), Value(float(elapsed_ms))) * (
            1 - EMA_ALPHA
        ) + Value(EMA_ALPHA * float(elapsed_ms))
    return values


def record_success(name: str, elapsed_ms: float | None, *, trial: bool = False) -> None:
    """The dependency answered (2xx/3xx, or a 4xx other than 429: it is up, the request was
    wrong). A successful trial closes the breaker."""
    now = timezone.now()
    values = _counters(now, elapsed_ms, consecutive_failures=0, last_success_at=now)
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

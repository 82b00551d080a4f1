"""Retry with exponential backoff and full jitter, a cap and a total deadline.

Framework-free: the clock, the sleep and the random source are parameters, so tests drive
them without waiting.
"""

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC

logger = logging.getLogger(__name__)


def backoff_delays(base: float, cap: float, attempts: int, rng: random.Random) -> list[float]:
    """`attempts` delays with full jitter: delay n is uniform in [0, min(cap, base * 2**n)].

    Full jitter (rather than base * 2**n plus a little noise) spreads the retries of many
    clients that failed at the same moment, so they do not hit the recovering service together.
    """
    return [rng.uniform(0, min(cap, base * 2**n)) for n in range(attempts)]


def parse_retry_after(value, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP date; None if absent
    or unreadable. A date in the past means "now" (0)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def call_with_retry(
    fn: Callable[[], object],
    *,
    is_retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], object] | None = None,
    deadline: float,
    max_attempts: int,
    base: float = 0.5,
    cap: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
):
    """Call `fn()` until it returns, at most `max_attempts` times within `deadline` seconds.

    `fn` signals failure by raising. Only errors for which `is_retryable(error)` is true are
    retried; anything else, the last attempt's error, or an error whose wait would reach past
    the deadline is re-raised as is. `retry_after(error)` may return a Retry-After value
    (seconds or an HTTP date) that replaces the jittered delay; if the server asks for a wait
    longer than the time left, we give up at once instead of retrying early.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    rng = rng or random.Random()
    started = clock()
    for attempt in range(max_attempts):
        try:
            return fn()
        except Exception as error:
            if attempt + 1 >= max_attempts or not is_retryable(error):
                raise
            hinted = parse_retry_after(retry_after(error)) if retry_after else None
            delay = hinted if hinted is not None else rng.uniform(0, min(cap, base * 2**attempt))
            remaining = deadline - (clock() - started)
            if delay >= remaining:
                raise
            logger.info(
                "retrying after %.2f s (attempt %d of %d)",
                delay,
                attempt + 2,
                max_attempts,
                extra={"error_type": type(error).__name__, "retry_after": hinted},
            )
            sleep(delay)

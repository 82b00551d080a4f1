"""API throttles that cost the same whatever the rate: a counter per window, not a history.

DRF's rate throttles keep the time of every request of the window in one cached list, read,
unpickled, pickled and written back whole on every request: at 3,000 a minute a busy bot's list
is 27 KB each way, and in the reads benchmark (21,000 requests a minute) it was 190 KB, most of
an unchanged poll's cost (docs/performance.md). Here each client has a counter per window
(`duration` seconds), and the rate is the sliding-window estimate: this window's count plus the
previous window's, weighted by how much of it still lies within the last `duration` seconds.
One round trip to Redis (INCR, EXPIRE, GET in one script: COUNT) and two integers stored.

Refused requests count too: a client that keeps hammering while throttled stays throttled,
which is what the sign-in throttle wants. While the cache is unreachable every request is
allowed (project.cache fails open), as before."""

from django.core.cache import cache
from redis.exceptions import ConnectionError, TimeoutError
from rest_framework import throttling

from .cache import Script, redis_client, warn_unreachable


class WindowCounterThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's rates and cache keys, counted per window (see the module)."""

    def allow_request(self, request, view):
        self.key = self.counted_key(request, view)
        return True if self.key is None else self.allow_key(self.key)

    def counted_key(self, request, view) -> str | None:
        """The cache key this request counts under, or None if this throttle counts nothing."""
        return None if self.rate is None else self.get_cache_key(request, view)

    def allow_key(self, key: str) -> bool:
        """`allow_request` for a client whose cache key is already known (project.polls keeps
        it with the rest of what an unchanged poll needs, and has no DRF request to give)."""
        window, into = self._window()
        current, previous = self._count(*_window_keys(key, window))
        return self._judge(current, previous, into)

    def _window(self) -> tuple[int, float]:
        """This window's number, and how far into it we are (seconds)."""
        window, into = divmod(self.timer(), self.duration)
        return int(window), into

    def _judge(self, current: int, previous: int, into: float) -> bool:
        estimate = previous * (1 - into / self.duration) + current
        if estimate <= self.num_requests:
            return True
        self._wait = self._seconds_until_allowed(estimate, current, previous, into)
        return False

    def _count(self, current_key: str, previous_key: str) -> tuple[int, int]:
        """This window's count with this request, and the previous window's."""
        client = redis_client()
        if client is None:  # a cache per process (embedded): no round trip to save
            cache.add(current_key, 0, self.duration * 2)
            try:
                current = cache.incr(current_key)
            except ValueError:  # culled between the two (a full LocMemCache)
                current = 1
                cache.set(current_key, current, self.duration * 2)
            return current, cache.get(previous_key, 0)
        window = (cache.make_key(current_key), cache.make_key(previous_key), int(self.duration * 2))
        try:
            current, previous = COUNT(client, window[:2], window[2:])
        except (ConnectionError, TimeoutError) as error:
            warn_unreachable("throttle", error)
            return 0, 0
        return current, previous

    def _seconds_until_allowed(self, estimate: float, current: int, previous: int, into: float) -> float:
        """Seconds until the estimate is back within the rate, if the client sends nothing more:
        the previous window's share shrinks by previous/duration a second until this window
        ends; then this window's count becomes the previous one and shrinks the same way."""
        excess, left = estimate - self.num_requests, self.duration - into
        if previous and excess <= previous * left / self.duration:
            return excess * self.duration / previous
        return left + max(0.0, current - self.num_requests) * self.duration / current

    def wait(self):
        return self._wait


#: One request counted in several throttles' windows, in one command: KEYS are each window's
#: (current, previous) keys, ARGV the current keys' seconds to live; the reply is each window's
#: (current count with this request, previous count), flat. One command instead of three per
#: throttle (INCR, EXPIRE, GET).
COUNT = Script("""
local counts = {}
for i = 1, #KEYS, 2 do
  counts[#counts + 1] = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[(i + 1) / 2])
  counts[#counts + 1] = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
end
return counts
""")


def _window_keys(key: str, window: int) -> tuple[str, str]:
    """The counters of `key`'s current window and of the one before it."""
    return f"{key}:{window}", f"{key}:{window - 1}"


def _count_command(windows) -> list:
    """EVALSHA's arguments for `windows` ((current key, previous key, seconds to live))."""
    return COUNT.command([key for current, previous, _ in windows for key in (current, previous)], [ttl for _, _, ttl in windows])


class PipelinedCount:
    """One request counted by several WindowCounterThrottles on a Redis pipeline of another
    caller, in the same round trip as its own commands (project.polls reads a list's versions
    with it): `queue(pipe)` adds the command, `allowed(results)` reads its result, and
    `undo()` takes the count back when the request goes on to a view that counts it itself.
    Where Redis lacks the script, the pipeline fails: its caller counts the usual way
    (`allow_key`), which loads it."""

    def __init__(self, counted):
        self.throttles, self.windows = [], []
        for throttle, key in counted:
            window, into = throttle._window()
            self.throttles.append((throttle, into))
            current_key, previous_key = _window_keys(key, window)
            self.windows.append((cache.make_key(current_key), cache.make_key(previous_key), int(throttle.duration * 2)))

    def queue(self, pipe) -> None:
        if self.windows:
            pipe.evalsha(*_count_command(self.windows))

    def allowed(self, results: list) -> bool:
        """Whether every throttle allows the request, from the pipeline's results for `queue`."""
        if not self.windows:
            return True
        counts = results[0]
        return all(
            throttle._judge(counts[2 * index], counts[2 * index + 1], into)
            for index, (throttle, into) in enumerate(self.throttles)
        )

    def undo(self) -> None:
        client = redis_client()
        if client is None or not self.windows:
            return
        try:
            pipe = client.pipeline(transaction=False)
            for current_key, _, _ in self.windows:
                pipe.decr(current_key)
            pipe.execute()
        except (ConnectionError, TimeoutError) as error:
            warn_unreachable("throttle", error)


class AnonRateThrottle(WindowCounterThrottle, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(WindowCounterThrottle, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(WindowCounterThrottle, throttling.ScopedRateThrottle):
    def counted_key(self, request, view):
        # DRF's ScopedRateThrottle.allow_request: the view's scope picks the rate.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return None
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().counted_key(request, view)

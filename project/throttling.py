"""API throttles that cost the same whatever the rate: a counter per window, not a history.

DRF's rate throttles keep the time of every request of the window in one cached list, read,
unpickled, pickled and written back whole on every request: at 3,000 a minute a busy bot's list
is 27 KB each way, and in the reads benchmark (21,000 requests a minute) it was 190 KB, most of
an unchanged poll's cost (docs/performance.md). Here each client has a counter per window
(`duration` seconds), and the rate is the sliding-window estimate: this window's count plus the
previous window's, weighted by how much of it still lies within the last `duration` seconds.
One round trip to Redis (INCR, EXPIRE, GET in a pipeline) and two integers stored.

Refused requests count too: a client that keeps hammering while throttled stays throttled,
which is what the sign-in throttle wants. While the cache is unreachable every request is
allowed (project.cache fails open), as before."""

from django.core.cache import cache
from redis.exceptions import ConnectionError, TimeoutError
from rest_framework import throttling

from .cache import redis_client, warn_unreachable


class WindowCounterThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's rates and cache keys, counted per window (see the module)."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window, into = divmod(now, self.duration)
        current, previous = self._count(f"{self.key}:{int(window)}", f"{self.key}:{int(window) - 1}")
        share = 1 - into / self.duration
        estimate = previous * share + current
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
        current_key, previous_key = cache.make_key(current_key), cache.make_key(previous_key)
        try:
            pipe = client.pipeline(transaction=False)
            pipe.incr(current_key)
            pipe.expire(current_key, int(self.duration * 2))
            pipe.get(previous_key)
            current, _, previous = pipe.execute()
        except (ConnectionError, TimeoutError) as error:
            warn_unreachable("throttle", error)
            return 0, 0
        return current, int(previous or 0)

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


class AnonRateThrottle(WindowCounterThrottle, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(WindowCounterThrottle, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(WindowCounterThrottle, throttling.ScopedRateThrottle):
    def allow_request(self, request, view):
        # DRF's ScopedRateThrottle.allow_request: the view's scope picks the rate.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return WindowCounterThrottle.allow_request(self, request, view)

"""The scale-out cache: Django's RedisCache, failing open while Redis is unreachable.

Harbor keeps only counters in the cache (API throttles, failed logins). Losing them for the
length of a Redis outage beats failing every request with a 500: reads miss, writes are dropped,
a warning is logged (at most every 10 s per process), and /health reports the cache down, since
its probe value reads back as a miss."""

import functools
import hashlib
import logging
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

logger = logging.getLogger(__name__)

WARN_EVERY_SECONDS = 10.0
_last_warning = 0.0


def _fail_open(fallback):
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (ConnectionError, TimeoutError) as error:
                warn_unreachable(method.__name__, error)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def redis_client():
    """The shared cache's Redis client, for what the cache API cannot say in one round trip
    (project.throttling's counters, project.realtime.versions' tokens), or None when the cache
    is per process (embedded)."""
    from django.core.cache import cache

    backend = getattr(cache, "_cache", None)
    return backend.get_client(write=True) if hasattr(backend, "get_client") else None


class Script:
    """A Lua script that does in one Redis command what would otherwise be one command per key
    (redis-py packs and parses each command in Python: docs/performance.md, HTTP reads,
    2026-12-07 evening). Sent by its SHA1 (EVALSHA), and loaded again where Redis lacks it
    (restarted since). `command(keys, args)` is EVALSHA's arguments, for a pipeline whose
    caller catches NoScriptError, calls `load` and tries again."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def command(self, keys, args) -> list:
        return [self.sha, len(keys), *keys, *args]

    def load(self, client) -> None:
        client.script_load(self.source)

    def __call__(self, client, keys, args):
        try:
            return client.evalsha(*self.command(keys, args))
        except NoScriptError:
            self.load(client)
            return client.evalsha(*self.command(keys, args))


def warn_unreachable(operation: str, error: Exception) -> None:
    global _last_warning
    if time.monotonic() - _last_warning >= WARN_EVERY_SECONDS:
        _last_warning = time.monotonic()
        logger.warning("cache unreachable; failing open", extra={"operation": operation, "error": str(error)})


def _missing_key(key, *args, **kwargs):
    raise ValueError(f"Key {key!r} not found (the cache is unreachable)")


class FailOpenRedisCacheClient(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        """One `redis.Redis` per connection pool, not one per call: Django builds a new one on
        every cache operation, and its __init__ was a quarter of an unchanged poll's CPU (two
        throttle operations and the list version per request, bench/http_reads)."""
        index = self._get_connection_pool_index(write)
        clients = self.__dict__.setdefault("_clients", {})
        if index not in clients:
            clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return clients[index]

    get = _fail_open(lambda key, default=None: default)(RedisCacheClient.get)
    get_many = _fail_open(lambda keys: {})(RedisCacheClient.get_many)
    has_key = _fail_open(lambda key: False)(RedisCacheClient.has_key)
    add = _fail_open(lambda *args, **kwargs: True)(RedisCacheClient.add)
    set = _fail_open(lambda *args, **kwargs: None)(RedisCacheClient.set)
    set_many = _fail_open(lambda *args, **kwargs: [])(RedisCacheClient.set_many)
    touch = _fail_open(lambda *args, **kwargs: False)(RedisCacheClient.touch)
    incr = _fail_open(_missing_key)(RedisCacheClient.incr)
    delete = _fail_open(lambda key: False)(RedisCacheClient.delete)
    delete_many = _fail_open(lambda keys: None)(RedisCacheClient.delete_many)
    clear = _fail_open(lambda: False)(RedisCacheClient.clear)


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = FailOpenRedisCacheClient

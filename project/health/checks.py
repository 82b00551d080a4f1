"""Harbor's built-in health checks (the workers check lives in project.workers)."""

import asyncio
import secrets
import time

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from project.resilience.breaker import snapshots


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def database() -> dict:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"status": "ok", "latency_ms": _ms_since(started), "vendor": connection.vendor}


def channel_layer() -> dict:
    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):
        # A private instance with the same configuration: channels_redis refuses receive() on
        # one layer object from two event loops at once ("Two event loops are trying to
        # receive()"), and this thread's loop would collide with the consumers' loop under
        # daphne. Its connections close with our loop.
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    started = time.perf_counter()
    # The check thread has no event loop; one asyncio.run does the whole round trip, and
    # wait_for lets this thread end by itself even after /health has given up on it.
    asyncio.run(asyncio.wait_for(_round_trip(layer), settings.HEALTH_CHECK_TIMEOUT_SECONDS))
    return {"status": "ok", "latency_ms": _ms_since(started), "backend": type(layer).__name__}


async def _round_trip(layer) -> None:
    # A private channel: nobody else reads it, so what comes back is our own message.
    channel = await layer.new_channel("health.")
    token = secrets.token_hex(8)
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("the channel layer returned someone else's message")


def cache_check() -> dict:
    key = f"health:{secrets.token_hex(8)}"
    value = secrets.token_hex(8)
    started = time.perf_counter()
    cache.set(key, value, timeout=30)
    got = cache.get(key)
    cache.delete(key)
    if got != value:
        return {"status": "down", "error": "CacheMiss", "latency_ms": _ms_since(started)}
    return {"status": "ok", "latency_ms": _ms_since(started)}


def dependencies() -> dict:
    """Circuit breakers of external services; anything but closed means calls to it fail fast
    or are on trial, which degrades the features that use it."""
    breakers = {
        name: {
            "breaker": state["breaker"],
            "consecutive_failures": state["consecutive_failures"],
            "calls": state["calls"],
            "failures": state["failures"],
            "avg_response_ms": None if state["avg_response_ms"] is None else round(state["avg_response_ms"], 1),
            "last_error": state["last_error"],
            "last_error_at": state["last_error_at"],
            "opened_at": state["opened_at"],
        }
        for name, state in snapshots().items()
        # One breaker per webhook endpoint, each a tenant's own URL: its owners are told when it
        # fails for good, and one tenant's dead receiver is not Harbor's health (the `webhooks`
        # check counts them).
        if not name.startswith("webhook.")
    }
    not_closed = sorted(name for name, state in breakers.items() if state["breaker"] != "closed")
    return {"status": "degraded" if not_closed else "ok", "not_closed": not_closed, "breakers": breakers}

"""The API's throttles (project/throttling.py): DRF's rates, counted per window in one round
trip, with the previous window's count weighted in (a sliding estimate); what is stored per
client is two integers however many requests it made; Redis unreachable lets requests through."""

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

import project.cache
from project.cache import redis_client
from project.throttling import ScopedRateThrottle, UserRateThrottle

from ..conftest import bearer_client, free_port

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class LimitedView(APIView):
    throttle_scope = "auth"  # 30/min (THROTTLE_AUTH)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()
    project.cache._last_warning = 0.0


def attempts(clock: Clock, count: int, address="198.51.100.7") -> list[bool]:
    """`count` requests from `address` at the clock's time, each through a fresh throttle (as DRF
    makes one per request): allowed or not."""
    request = APIRequestFactory().post("/", REMOTE_ADDR=address)
    request.user = AnonymousUser()
    outcomes = []
    for _ in range(count):
        throttle = ScopedRateThrottle()
        throttle.timer = clock
        outcomes.append(throttle.allow_request(request, LimitedView()))
    return outcomes


def test_the_rate_is_kept_within_a_window_and_the_refusal_says_how_long_to_wait():
    clock = Clock(1_000_020.0)  # 20 s into a minute
    assert attempts(clock, 30) == [True] * 30
    throttle = ScopedRateThrottle()
    throttle.timer = clock
    request = APIRequestFactory().post("/", REMOTE_ADDR="198.51.100.7")
    request.user = AnonymousUser()
    assert throttle.allow_request(request, LimitedView()) is False
    assert 0 < throttle.wait() <= 60 * 2
    assert attempts(clock, 1, address="198.51.100.8") == [True]  # another client has its own count


def test_the_previous_window_still_counts_for_the_part_of_it_within_the_last_minute():
    clock = Clock(1_000_050.0)  # 50 s into a minute: 30 requests
    assert attempts(clock, 30) == [True] * 30
    clock.now = 1_000_080.0 + 30  # half way through the next minute: the 30 weigh 15
    assert attempts(clock, 16) == [True] * 15 + [False]
    clock.now += 120  # two minutes of quiet: all forgotten
    assert attempts(clock, 30) == [True] * 30


def test_what_a_busy_client_costs_the_cache_is_two_counters():
    """DRF's own throttle stored the time of each request of the last minute and read and wrote
    the whole list on every request."""
    clock = Clock(1_000_000.0)
    request = APIRequestFactory().get("/")
    request.user = type("Bot", (), {"is_authenticated": True, "pk": 7})()
    for _ in range(200):
        throttle = UserRateThrottle()
        throttle.timer = clock
        assert throttle.allow_request(request, APIView())
        clock.now += 0.2  # 200 requests over 40 s
    key = throttle.get_cache_key(request, APIView())
    client = redis_client()
    if client is None:
        stored = [cache.get(f"{key}:{window}") for window in (16666, 16667)]
    else:
        stored = [client.get(cache.make_key(f"{key}:{window}")) for window in (16666, 16667)]
        stored = [int(value) for value in stored]
    assert sum(stored) == 200 and all(isinstance(value, int) for value in stored)


def test_an_api_client_over_its_rate_gets_a_429_with_retry_after(alice, settings):
    UserRateThrottle.THROTTLE_RATES = {**UserRateThrottle.THROTTLE_RATES, "user": "3/min"}
    try:
        client = bearer_client(alice)
        statuses = [client.get("/api/notifications").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/api/notifications")
        assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 120
        assert refused.json()["error"]["code"] == "throttled"
        assert refused.json()["error"]["retry_after"] == int(refused["Retry-After"])  # one figure, rounded up
    finally:
        UserRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


@pytest.mark.skipif(not settings.REDIS_URL, reason="the shared cache is Redis in scale-out mode only")
def test_redis_unreachable_lets_requests_through():
    caches = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    with override_settings(CACHES=caches):
        assert attempts(Clock(1_000_020.0), 40) == [True] * 40


@pytest.mark.skipif(not settings.REDIS_URL, reason="the shared cache is Redis in scale-out mode only")
def test_a_redis_that_lost_the_counting_script_still_counts(acme, alice, bob):
    """Redis restarted keeps no script: the next count loads it again, an unchanged poll's
    pipeline (project.polls) too."""
    from workflows import services

    redis_client().script_flush()
    assert attempts(Clock(1_000_020.0), 31) == [True] * 30 + [False]
    UserRateThrottle.THROTTLE_RATES = {**UserRateThrottle.THROTTLE_RATES, "user": "4/min"}
    try:
        workflow = services.create_workflow(acme, alice, "Polled", [(bob.email, "editor")])
        client, url = bearer_client(bob), f"/api/workflows/{workflow.pk}/messages"
        etag = client.get(url)["ETag"]
        statuses = []
        for _ in range(4):  # the exact way, which keeps a pass, then the pass's pipeline
            redis_client().script_flush()
            statuses.append(client.get(url, HTTP_IF_NONE_MATCH=etag).status_code)
        assert statuses == [304, 304, 304, 429]
    finally:
        UserRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]

"""The production setting: a process trusts a healthy breaker it read for BREAKER_CACHE_SECONDS
and writes its successes once per period, so healthy calls cost no query, while failures and
other processes' openings still count."""

import time

import pytest

from project.resilience import breaker
from project.resilience.breaker import CircuitOpen
from project.resilience.http import HttpClient, HttpError
from project.resilience.models import DependencyState

from .fake_server import fake_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def trusted_for_a_while(settings):
    settings.RETRY_MAX_ATTEMPTS = 1
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_CACHE_SECONDS = 60


@pytest.fixture
def client(fake_server):  # noqa: F811
    client = HttpClient("example", fake_server.url, sleep=lambda s: None)
    yield client
    client.close()


def test_healthy_calls_cost_no_query_once_the_breaker_was_read(client, django_assert_num_queries):
    client.request("GET", "/")  # reads the row (creating it) and writes the first success
    with django_assert_num_queries(0):
        for _ in range(5):
            client.request("GET", "/")


def test_buffered_successes_are_written_with_the_next_failure(client, fake_server):  # noqa: F811
    for _ in range(4):
        client.request("GET", "/")
    fake_server.push(500)
    with pytest.raises(HttpError):
        client.request("GET", "/")
    state = breaker.snapshot("example")
    assert (state["calls"], state["failures"], state["consecutive_failures"]) == (5, 1, 1)


def test_buffered_successes_are_written_once_the_period_is_over(client, settings):
    settings.BREAKER_CACHE_SECONDS = 0.2
    for _ in range(3):
        client.request("GET", "/")
    time.sleep(0.25)
    client.request("GET", "/")  # trusted no longer: read again, written with the buffered ones
    time.sleep(0.25)
    client.request("GET", "/")
    assert breaker.snapshot("example")["calls"] == 4


def test_failures_still_open_the_breaker_at_the_threshold(client, fake_server):  # noqa: F811
    client.request("GET", "/")
    fake_server.default.status = 503
    for _ in range(3):
        with pytest.raises(HttpError):
            client.request("GET", "/")
    assert breaker.snapshot("example")["breaker"] == "open"
    with pytest.raises(CircuitOpen):
        client.request("GET", "/")


def test_an_opening_by_another_process_is_seen_after_the_period(client, fake_server, settings):  # noqa: F811
    settings.BREAKER_CACHE_SECONDS = 0.2
    client.request("GET", "/")
    from django.utils import timezone

    DependencyState.objects.filter(name="example").update(state="open", opened_at=timezone.now())  # elsewhere
    time.sleep(0.25)
    calls_before = fake_server.count
    with pytest.raises(CircuitOpen):
        client.request("GET", "/")
    assert fake_server.count == calls_before

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from project.resilience import breaker
from project.resilience.breaker import CircuitOpen
from project.resilience.http import HttpClient, HttpError
from project.resilience.models import DependencyState

from .fake_server import fake_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_attempt_per_call(settings):
    """Each request is one call through the breaker, so counts are easy to follow."""
    settings.RETRY_MAX_ATTEMPTS = 1
    settings.BREAKER_FAILURE_THRESHOLD = 5
    settings.BREAKER_OPEN_SECONDS = 60


@pytest.fixture
def client(fake_server):  # noqa: F811
    client = HttpClient("example", fake_server.url, sleep=lambda s: None)
    yield client
    client.close()


def fail_times(client, n):
    for _ in range(n):
        with pytest.raises(HttpError):
            client.request("GET", "/")


def end_open_period(name="example"):
    DependencyState.objects.filter(name=name).update(opened_at=timezone.now() - timedelta(seconds=61))


def test_it_opens_after_five_consecutive_failures_then_fails_fast(client, fake_server, caplog):  # noqa: F811
    fake_server.default.status = 503
    with caplog.at_level(logging.WARNING, logger="project.resilience.breaker"):
        fail_times(client, 4)
        assert breaker.snapshot("example")["breaker"] == "closed"
        fail_times(client, 1)
    assert breaker.snapshot("example")["breaker"] == "open"
    assert [r.getMessage() for r in caplog.records] == ["breaker example: closed → open"]
    assert caplog.records[0].to_state == "open"

    with pytest.raises(CircuitOpen) as raised:
        client.request("GET", "/")
    assert fake_server.count == 5  # rejected without touching the server
    assert raised.value.permanent is False and 59 < raised.value.retry_in <= 60


def test_a_success_resets_the_consecutive_failures(client, fake_server):  # noqa: F811
    for _ in range(4):
        fake_server.push(503)
    fake_server.push(200)
    for _ in range(4):
        fake_server.push(503)
    fail_times(client, 4)
    client.request("GET", "/")
    fail_times(client, 4)
    state = breaker.snapshot("example")
    assert state["breaker"] == "closed" and state["consecutive_failures"] == 4


def test_after_the_open_period_a_successful_trial_closes_it(client, fake_server, caplog):  # noqa: F811
    fake_server.default.status = 503
    fail_times(client, 5)
    end_open_period()
    fake_server.default.status = 200
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="project.resilience.breaker"):
        assert client.request("GET", "/").status_code == 200
    state = breaker.snapshot("example")
    assert state["breaker"] == "closed" and state["consecutive_failures"] == 0
    assert [r.getMessage() for r in caplog.records] == [
        "breaker example: open → half_open",
        "breaker example: half_open → closed",
    ]
    client.request("GET", "/")
    assert fake_server.count == 7


def test_a_failed_trial_reopens_it_for_another_period(client, fake_server):  # noqa: F811
    fake_server.default.status = 503
    fail_times(client, 5)
    end_open_period()
    fail_times(client, 1)
    state = breaker.snapshot("example")
    assert state["breaker"] == "open"
    assert timezone.now() - state["opened_at"] < timedelta(seconds=5)
    with pytest.raises(CircuitOpen):
        client.request("GET", "/")
    assert fake_server.count == 6


def test_exactly_one_caller_wins_the_half_open_trial(client, fake_server, settings):  # noqa: F811
    fake_server.default.status = 503
    fail_times(client, 5)
    end_open_period()
    assert breaker.before_call("example") is True
    for _ in range(3):
        with pytest.raises(CircuitOpen):
            breaker.before_call("example")
    assert breaker.snapshot("example")["breaker"] == "half_open"


def test_a_trial_abandoned_for_a_whole_period_is_taken_over(client, fake_server):  # noqa: F811
    fake_server.default.status = 503
    fail_times(client, 5)
    end_open_period()
    assert breaker.before_call("example") is True  # ... and this caller's process dies
    end_open_period()
    assert breaker.before_call("example") is True


def test_a_tiny_open_period_from_settings(client, fake_server, settings):  # noqa: F811
    settings.BREAKER_OPEN_SECONDS = 0
    fake_server.default.status = 503
    fail_times(client, 5)
    fake_server.default.status = 200
    client.request("GET", "/")
    assert breaker.snapshot("example")["breaker"] == "closed"


def test_counters_record_calls_failures_errors_and_response_times(client, fake_server):  # noqa: F811
    fake_server.push(200, delay=0.05).push(500, body=b"database on fire").push(200)
    client.request("GET", "/")
    with pytest.raises(HttpError):
        client.request("GET", "/")
    client.request("GET", "/")
    state = breaker.snapshots()["example"]
    assert state["calls"] == 3 and state["failures"] == 1
    assert state["last_error"] == "HTTP 500: database on fire"
    assert state["last_error_at"] is not None and state["last_success_at"] >= state["last_error_at"]
    # The moving average starts at the first (slow) call and moves towards the fast ones.
    assert 0 < state["avg_response_ms"] < 50 * 1.2


def test_a_long_error_is_truncated():
    breaker.before_call("example")
    breaker.record_failure("example", "x" * 5000)
    assert len(breaker.snapshot("example")["last_error"]) == breaker.LAST_ERROR_MAX


def test_an_unknown_dependency_has_no_snapshot():
    assert breaker.snapshot("never-called") is None

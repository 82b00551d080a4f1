"""Breaker state lives in the database, so every process sees the same breaker."""

import pytest

from project.resilience import breaker
from project.resilience.breaker import CircuitOpen
from project.resilience.http import HttpClient, HttpError
from tests.conftest import run_manage

from .fake_server import fake_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

CALL_FIVE_TIMES = """
from project.resilience.http import HttpClient
client = HttpClient("shared", "{url}")
for _ in range(5):
    try:
        client.request("GET", "/")
        print("ok")
    except Exception as error:
        print(type(error).__name__)
"""


def test_failures_recorded_by_another_process_open_the_breaker_here(fake_server, settings):  # noqa: F811
    settings.RETRY_MAX_ATTEMPTS = 1
    fake_server.default.status = 503
    result = run_manage("shell", "--no-imports", "-c", CALL_FIVE_TIMES.format(url=fake_server.url),
                        RETRY_MAX_ATTEMPTS="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split().count("HttpError") == 5
    assert fake_server.count == 5
    assert breaker.snapshot("shared")["breaker"] == "open"
    with pytest.raises(CircuitOpen):
        HttpClient("shared", fake_server.url).request("GET", "/")
    assert fake_server.count == 5


def test_a_breaker_opened_here_rejects_calls_in_another_process(fake_server, settings):  # noqa: F811
    settings.RETRY_MAX_ATTEMPTS = 1
    fake_server.default.status = 503
    client = HttpClient("shared", fake_server.url)
    for _ in range(5):
        with pytest.raises(HttpError):
            client.request("GET", "/")
    result = run_manage("shell", "--no-imports", "-c", CALL_FIVE_TIMES.format(url=fake_server.url),
                        RETRY_MAX_ATTEMPTS="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split().count("CircuitOpen") == 5
    assert fake_server.count == 5

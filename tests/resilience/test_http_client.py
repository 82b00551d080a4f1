import pytest

from project.resilience import breaker
from project.resilience.http import HttpClient, HttpError
from tests.conftest import free_port

from .fake_server import fake_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sleeps():
    """Waits the client would have made; recorded instead of slept."""
    return []


@pytest.fixture
def client(fake_server, sleeps):  # noqa: F811
    client = HttpClient("example", fake_server.url, sleep=sleeps.append)
    yield client
    client.close()


def test_it_returns_the_response_on_success(client, fake_server):  # noqa: F811
    fake_server.push(200, headers={"Content-Type": "application/json"}, body=b'{"ok": true}')
    response = client.request("GET", "/things", params={"q": "x"})
    assert response.json() == {"ok": True}
    assert fake_server.received[0][:2] == ("GET", "/things?q=x")


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_it_stops_at_once_on_a_4xx(client, fake_server, status, sleeps):  # noqa: F811
    fake_server.push(status, body=b"no such thing")
    with pytest.raises(HttpError) as raised:
        client.request("GET", "/things/1")
    assert fake_server.count == 1 and sleeps == []
    assert raised.value.status == status and raised.value.permanent is True
    assert raised.value.body_excerpt == "no such thing"


def test_a_4xx_counts_as_a_success_for_the_breaker(client, fake_server):  # noqa: F811
    fake_server.push(404)
    with pytest.raises(HttpError):
        client.request("GET", "/missing")
    state = breaker.snapshot("example")
    assert state["calls"] == 1 and state["failures"] == 0 and state["last_success_at"] is not None


def test_it_retries_a_503_then_succeeds(client, fake_server, sleeps):  # noqa: F811
    fake_server.push(503).push(200, body=b"ok")
    assert client.request("GET", "/things").content == b"ok"
    assert fake_server.count == 2 and len(sleeps) == 1


def test_it_gives_up_after_max_attempts_with_a_temporary_error(client, fake_server, settings):  # noqa: F811
    settings.RETRY_MAX_ATTEMPTS = 3
    fake_server.default.status = 502
    with pytest.raises(HttpError) as raised:
        client.request("GET", "/things")
    assert fake_server.count == 3
    assert raised.value.status == 502 and raised.value.permanent is False


def test_a_429_waits_as_long_as_retry_after_says(client, fake_server, sleeps):  # noqa: F811
    fake_server.push(429, headers={"Retry-After": "1"}).push(200)
    client.request("GET", "/things")
    assert fake_server.count == 2 and sleeps == [1.0]


def test_a_post_is_not_retried(client, fake_server, sleeps):  # noqa: F811
    fake_server.push(503).push(200)
    with pytest.raises(HttpError) as raised:
        client.request("POST", "/orders", json={"n": 1})
    assert fake_server.count == 1 and sleeps == []
    assert raised.value.permanent is False


def test_an_idempotent_post_is_retried(client, fake_server):  # noqa: F811
    fake_server.push(503).push(201, body=b"created")
    response = client.request("POST", "/orders", json={"n": 1}, headers={"Idempotency-Key": "k1"}, idempotent=True)
    assert response.status_code == 201 and fake_server.count == 2
    assert fake_server.received[1][2] == b'{"n": 1}'


def test_a_refused_connection_is_retried_and_reported_without_a_status(settings, sleeps):
    settings.RETRY_MAX_ATTEMPTS = 2
    client = HttpClient("nowhere", f"http://127.0.0.1:{free_port()}", sleep=sleeps.append)
    with pytest.raises(HttpError) as raised:
        client.request("GET", "/secret-token-in-path")
    assert raised.value.status is None and raised.value.permanent is False
    assert len(sleeps) == 1
    state = breaker.snapshot("nowhere")
    assert state["failures"] == 2 and state["last_error"] == "ConnectionError"
    assert "secret" not in str(raised.value)


def test_a_slow_answer_times_out(client, fake_server, settings):  # noqa: F811
    settings.HTTP_TIMEOUT_SECONDS = (1.0, 0.2)
    settings.RETRY_MAX_ATTEMPTS = 1
    fake_server.push(200, delay=0.6)
    with pytest.raises(HttpError) as raised:
        client.request("GET", "/slow")
    assert raised.value.status is None and "ReadTimeout" in str(raised.value)
    assert breaker.snapshot("example")["last_error"] == "ReadTimeout"

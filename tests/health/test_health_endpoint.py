import time

import pytest

from project.resilience import breaker

from .conftest import BUILT_IN_CHECKS


@pytest.fixture
def health_token(settings):
    settings.HEALTH_TOKEN = "s3cret-monitor-token"
    return settings.HEALTH_TOKEN


@pytest.mark.django_db
def test_it_is_ok_with_every_check_present(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) >= BUILT_IN_CHECKS
    assert all(check == {"status": "ok"} for check in body["checks"].values())
    assert body["version"] and body["uptime_s"] >= 0


@pytest.mark.django_db
def test_anonymous_callers_see_statuses_only(client, health_token):
    for url in ["/health", "/health?token=wrong-token", "/health?token="]:
        checks = client.get(url).json()["checks"]
        assert all(set(check) == {"status"} for check in checks.values()), url


@pytest.mark.django_db
def test_an_empty_health_token_never_matches(client, settings):
    settings.HEALTH_TOKEN = ""
    checks = client.get("/health?token=").json()["checks"]
    assert set(checks["database"]) == {"status"}


@pytest.mark.django_db
def test_the_token_shows_details(client, health_token):
    checks = client.get(f"/health?token={health_token}").json()["checks"]
    assert checks["database"]["latency_ms"] >= 0
    assert checks["channel_layer"]["latency_ms"] >= 0 and checks["channel_layer"]["backend"]
    assert checks["cache"]["latency_ms"] >= 0
    assert checks["workers"]["up"] == 0 and checks["workers"]["down"] == 0
    assert checks["dependencies"]["breakers"] == {}


@pytest.mark.django_db
def test_staff_see_details(client, staff, alice):
    client.force_login(alice)
    assert set(client.get("/health").json()["checks"]["database"]) == {"status"}
    client.force_login(staff)
    assert "latency_ms" in client.get("/health").json()["checks"]["database"]


# The checks run in their own threads with their own connections: rows they must see are
# committed, hence transaction=True.
@pytest.mark.django_db(transaction=True)
def test_an_open_breaker_degrades_but_still_answers_200(client, settings, health_token):
    settings.BREAKER_FAILURE_THRESHOLD = 5
    for _ in range(5):
        breaker.before_call("openai")
        breaker.record_failure("openai", "ConnectTimeout")

    response = client.get(f"/health?token={health_token}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    dependencies = body["checks"]["dependencies"]
    assert dependencies["status"] == "degraded" and dependencies["not_closed"] == ["openai"]
    assert dependencies["breakers"]["openai"]["breaker"] == "open"
    assert dependencies["breakers"]["openai"]["failures"] == 5
    assert dependencies["breakers"]["openai"]["last_error"] == "ConnectTimeout"
    assert client.get("/health").json()["checks"]["dependencies"] == {"status": "degraded"}


@pytest.mark.django_db(transaction=True)
def test_a_silent_worker_degrades(client, settings, health_token):
    from datetime import timedelta

    from django.utils import timezone

    from project.workers.models import WorkerHeartbeat
    from project.workers.services import Heartbeat

    Heartbeat("poller").beat("idle")
    Heartbeat("queue-bot").beat("idle")
    WorkerHeartbeat.objects.filter(name="poller").update(last_seen=timezone.now() - timedelta(minutes=5))

    response = client.get(f"/health?token={health_token}")
    assert response.status_code == 200
    workers = response.json()["checks"]["workers"]
    assert response.json()["status"] == "degraded"
    assert workers["status"] == "degraded" and workers["up"] == 1 and workers["down"] == 1


@pytest.mark.django_db
def test_a_hanging_check_is_down_without_hanging_the_request(client, settings, extra_check, health_token):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.3
    extra_check("slow_queue", lambda: time.sleep(3) or {"status": "ok"})

    started = time.monotonic()
    response = client.get(f"/health?token={health_token}")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["slow_queue"] == {"status": "down", "error": "TimeoutError", "timeout_s": 0.3}
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_a_failing_optional_check_degrades_with_its_error_class(client, extra_check, health_token):
    def broken():
        raise ConnectionRefusedError("secret host details")

    extra_check("subscriptions", broken, required=False)
    response = client.get(f"/health?token={health_token}")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["subscriptions"] == {"status": "down", "error": "ConnectionRefusedError"}
    assert b"secret host details" not in response.content


@pytest.mark.django_db
async def test_the_channel_layer_check_works_while_this_process_is_receiving(async_client, health_token):
    """Under daphne, consumers receive on the shared layer in the server's event loop while
    /health runs its round trip from a check thread."""
    import asyncio

    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    waiting = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.05)
    try:
        response = await async_client.get(f"/health?token={health_token}")
        assert response.json()["checks"]["channel_layer"]["status"] == "ok"
        await layer.send(channel, {"type": "still.working"})
        assert (await asyncio.wait_for(waiting, 2))["type"] == "still.working"
    finally:
        waiting.cancel()


@pytest.mark.django_db(transaction=True)
def test_no_bot_and_unconfigured_providers_are_details_not_faults(client, settings, health_token):
    """Monitors keep reading ok: a queue with no bot and a provider without credentials fail
    nothing. The details say which it is, and the status page says it in words."""
    from project.workers.services import Heartbeat

    settings.SUBSCRIPTION_PROVIDERS = {
        name: dict(config, client_id="", client_secret="") for name, config in settings.SUBSCRIPTION_PROVIDERS.items()
    }
    body = client.get(f"/health?token={health_token}").json()
    assert body["status"] == "ok"
    assert body["checks"]["queue"]["status"] == "ok" and body["checks"]["queue"]["bots_running"] == 0
    for name in ["subscriptions.spotify", "subscriptions.youtube"]:
        assert body["checks"][name]["status"] == "ok" and body["checks"][name]["configured"] is False

    Heartbeat("queue-bot").beat("idle")
    Heartbeat("poll_subscriptions").beat("idle")
    assert client.get(f"/health?token={health_token}").json()["checks"]["queue"]["bots_running"] == 1
    assert client.get("/health").json()["checks"]["queue"] == {"status": "ok"}

"""The bot engine against a local model server speaking the providers' wire formats, through the
official SDKs: what a person sees on the stream when a model is slow, rate-limited, wrong or
streaming. Durations are scaled through settings."""

import asyncio
import json
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from queue_app import services
from queue_app.bot import BotEngine
from queue_app.models import QueueMessage

from ..realtime.sockets import open_ready_socket, session_headers
from .model_server import anthropic_error, model_server, openai_error, openai_stream  # noqa: F401


@pytest.fixture
def models(settings, model_server):  # noqa: F811
    settings.OPENAI_BASE_URL = model_server.url + "/v1"
    settings.ANTHROPIC_BASE_URL = model_server.url
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = "sk-test"
    settings.HTTP_TIMEOUT_SECONDS = (0.5, 1.0)  # the old 10 s read timeout, scaled
    settings.RETRY_DEADLINE_SECONDS = 3.0
    settings.QUEUE_PROVIDER_READ_TIMEOUT_MINUTES = 0.05
    settings.QUEUE_PROVIDER_DEADLINE_MINUTES = 0.1
    settings.RETRY_BASE_SECONDS = settings.RETRY_CAP_SECONDS = 0.2
    settings.QUEUE_STREAM_INTERVAL_SECONDS = 0.05
    return model_server


def reply_to(message):
    return QueueMessage.objects.filter(reply_to=message).first()


@pytest.mark.django_db(transaction=True)
def test_a_slow_answer_is_requested_once_and_delivered(alice, models):
    models.push(openai_stream(["Worth ", "the ", "wait."], delay=1.2))  # "12 s" to the first byte
    message = services.post_message(alice, "take your time")
    stats = BotEngine(once=True, provider="openai").run()
    assert stats.answered == 1 and models.count == 1
    message.refresh_from_db()
    assert message.status == "complete" and message.partial_text == ""
    assert reply_to(message).text == "Worth the wait."


@pytest.mark.django_db(transaction=True)
def test_a_retry_after_is_waited_out_without_a_dead_letter(alice, models, settings):
    settings.QUEUE_MAX_ATTEMPTS = 1  # one spent attempt would be a dead letter
    models.push(openai_error(429, "rate_limit_exceeded", "Rate limit reached", {"Retry-After": "1"}),
                openai_stream(["at last"]))
    message = services.post_message(alice, "busy?")
    BotEngine(once=True, provider="openai").run()
    message.refresh_from_db()
    assert message.status == "pending" and message.attempts == 0 and "Rate limit reached" in message.last_error
    assert message.available_at > timezone.now() + timedelta(seconds=0.5)  # the provider's wait, not sooner
    assert BotEngine(once=True, provider="openai").run().answered == 0  # not claimable yet
    time.sleep(1.1)
    assert BotEngine(once=True, provider="openai").run().answered == 1
    message.refresh_from_db()
    assert message.status == "complete" and reply_to(message).text == "at last" and models.count == 2


@pytest.mark.django_db(transaction=True)
def test_model_not_found_is_a_dead_letter_at_once_with_the_providers_words(alice, models):
    models.push(openai_error(400, "model_not_found", "The model `gpt-nope` does not exist"))
    message = services.post_message(alice, "hello")
    BotEngine(once=True, provider="openai").run()
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 1 and models.count == 1
    assert "model_not_found" in message.last_error and "The model `gpt-nope` does not exist" in message.last_error


@pytest.mark.django_db(transaction=True)
def test_an_open_breaker_defers_the_message_without_spending_an_attempt(alice, models, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 1
    settings.RETRY_MAX_ATTEMPTS = 1
    models.push(anthropic_error(500, "api_error", "Internal server error"))
    first = services.post_message(alice, "one")
    BotEngine(once=True, provider="anthropic").run()
    second = services.post_message(alice, "two")
    BotEngine(once=True, provider="anthropic").run()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.attempts == 1 and first.status == "pending"
    assert second.attempts == 0 and second.status == "pending" and "circuit" in second.last_error
    assert second.available_at > timezone.now()
    assert models.count == 1


@pytest.mark.django_db
def test_a_client_connecting_mid_answer_reads_the_text_so_far_and_a_requeue_leaves_no_half_reply(alice, client):
    message = services.post_message(alice, "long one")
    claimed = services.claim_next("w1", lease_seconds=1)
    services.stream_partials("w1", [services.Partial(message.pk, claimed.claim_token, "Half of")])
    services.stream_partials("w2", [services.Partial(message.pk, "stale", "not mine")])  # skipped
    client.force_login(alice)
    shown = client.get(f"/api/queue/messages/{message.pk}").json()
    assert shown["partial_text"] == "Half of" and shown["status"] == "processing"
    QueueMessage.objects.filter(pk=message.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.requeue_expired() == 1
    message.refresh_from_db()
    assert message.partial_text == "" and reply_to(message) is None


@pytest.mark.django_db
def test_a_remote_bot_hands_its_partial_text_to_the_api(alice, client, robot):
    message = services.post_message(alice, "remote")
    claimed = services.claim_next("r1")
    client.force_login(robot)
    body = {"worker_id": "r1", "claims": [{"id": message.pk, "claim_token": claimed.claim_token,
                                           "partial_text": "So far"}]}
    assert client.post("/api/queue/partials", body, content_type="application/json").status_code == 204
    message.refresh_from_db()
    assert message.partial_text == "So far"
    bad = client.post("/api/queue/partials", {"worker_id": "r1", "claims": [{"id": message.pk}]},
                      content_type="application/json")
    assert bad.status_code == 400 and "claim_token" in json.dumps(bad.json())


@pytest.mark.django_db(transaction=True)
async def test_a_streamed_reply_reaches_the_socket_in_several_frames_before_it_is_complete(alice, bob, client, models):
    models.push(openai_stream(["Buy ", "the ", "ticket, ", "take ", "the ", "ride."], chunk_delay=0.15))

    @database_sync_to_async
    def headers():
        client.force_login(bob)
        return session_headers(client)

    socket = await open_ready_socket("/ws/queue/", await headers())
    message = await database_sync_to_async(services.post_message)(alice, "what now?")
    engine = BotEngine(once=True, provider="openai")
    running = asyncio.get_running_loop().run_in_executor(None, engine.run)
    frames = []
    while True:
        frame = json.loads(await socket.receive_from(timeout=10))
        frames.append(frame)
        if frame["type"] == "queue_message.answered":
            break
    await running
    await socket.disconnect()
    partials = [f["data"]["partial_text"] for f in frames if f["type"] == "streaming"]
    assert len(partials) >= 3, [f["type"] for f in frames]
    assert all(f["data"]["message_id"] == message.pk for f in frames if f["type"] == "streaming")
    assert partials == sorted(partials, key=len) and "Buy the ticket, take the ride.".startswith(partials[-1])
    assert "cursor" not in next(f for f in frames if f["type"] == "streaming")  # not in the replayable log
    assert frames[-1]["data"]["reply"]["text"] == "Buy the ticket, take the ride."


@pytest.mark.django_db
def test_a_remote_bot_says_what_kind_of_failure_it_met(alice, client, robot):
    dead, waiting = services.post_message(alice, "bad model"), services.post_message(alice, "rate limited")
    claims = {m.pk: m.claim_token for m in services.claim_many("r1", 2)}
    client.force_login(robot)
    body = {"worker_id": "r1", "claims": [
        {"id": dead.pk, "claim_token": claims[dead.pk], "error": "openai: HTTP 400: model_not_found", "permanent": True},
        {"id": waiting.pk, "claim_token": claims[waiting.pk], "error": "openai: HTTP 429", "retry_after_seconds": 70,
         "deferred": True}]}
    response = client.post("/api/queue/failures", body, content_type="application/json")
    assert response.status_code == 200, response.json()
    dead.refresh_from_db()
    waiting.refresh_from_db()
    assert dead.status == "failed" and dead.last_error == "openai: HTTP 400: model_not_found"
    assert waiting.status == "pending" and waiting.attempts == 0
    assert waiting.available_at > timezone.now() + timedelta(seconds=60)
    bad = client.post("/api/queue/failures", {"worker_id": "r1", "claims": [
        {"id": dead.pk, "claim_token": "t", "error": "x", "retry_after_seconds": -1}]}, content_type="application/json")
    assert bad.status_code == 400 and "retry_after_seconds" in json.dumps(bad.json())

import json

import pytest
from channels.db import database_sync_to_async

from queue_app import services

from ..realtime.sockets import open_ready_socket, open_socket, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def browser(client, user):
    client.force_login(user)
    return session_headers(client)


async def next_frame(communicator, timeout=3):
    return json.loads(await communicator.receive_from(timeout=timeout))


async def test_the_stream_sees_a_message_its_claim_and_the_bots_reply(client, alice, bob):
    socket = await open_ready_socket("/ws/queue/", await browser(client, bob))
    message = await database_sync_to_async(services.post_message)(alice, "anyone?")
    created = await next_frame(socket)
    assert (created["type"], created["group"]) == ("queue_message.created", "queue.public")
    assert created["data"]["message"]["text"] == "anyone?" and created["data"]["message"]["status"] == "pending"
    claimed = await database_sync_to_async(services.claim_next)("w1")
    updated = await next_frame(socket)
    assert updated["type"] == "queue_message.claimed" and updated["data"]["message"]["status"] == "processing"
    assert "claim_token" not in updated["data"]["message"]
    await database_sync_to_async(services.complete)(message.pk, "w1", claimed.claim_token, "yes")
    answered = await next_frame(socket)
    assert answered["type"] == "queue_message.answered"
    assert answered["data"]["message"]["status"] == "complete"
    assert answered["data"]["reply"]["text"] == "yes" and answered["data"]["reply"]["reply_to"] == message.pk
    await socket.disconnect()


async def test_a_tenant_stream_is_separate_and_for_members_only(client, alice, acme, mallory):
    socket = await open_ready_socket(f"/ws/queue/?tenant={acme.pk}", await browser(client, alice))
    await database_sync_to_async(services.post_message)(alice, "public")
    await database_sync_to_async(services.post_message)(alice, "inside", tenant_id=acme.pk)
    frame = await next_frame(socket)
    assert frame["group"] == f"queue.{acme.pk}" and frame["data"]["message"]["text"] == "inside"
    await socket.disconnect()
    _, closed = await open_socket(f"/ws/queue/?tenant={acme.pk}", await browser(client, mallory))
    assert closed == {"type": "websocket.close", "code": 4403}
    _, closed = await open_socket("/ws/queue/")
    assert closed == {"type": "websocket.close", "code": 4401}


@database_sync_to_async
def rest(user, path):
    from ..conftest import bearer_client

    return bearer_client(user).get(path).json()


async def test_a_frame_carries_exactly_the_rest_representation(client, alice, bob):
    """One shape per resource: the socket frame's message and reply are what REST returns."""
    socket = await open_ready_socket("/ws/queue/", await browser(client, bob))
    message = await database_sync_to_async(services.post_message)(alice, "same shape?", color="#aa3300", entity="duke")
    created = await next_frame(socket)
    assert created["data"] == {"message": await rest(alice, f"/api/queue/messages/{message.pk}")}
    claimed = await database_sync_to_async(services.claim_next)("w1")
    assert (await next_frame(socket))["data"]["message"] == await rest(alice, f"/api/queue/messages/{message.pk}")
    _, reply, _ = await database_sync_to_async(services.complete)(message.pk, "w1", claimed.claim_token, "yes")
    answered = await next_frame(socket)
    assert answered["data"] == {
        "message": await rest(alice, f"/api/queue/messages/{message.pk}"),
        "reply": await rest(alice, f"/api/queue/messages/{reply.pk}"),
    }
    await socket.disconnect()

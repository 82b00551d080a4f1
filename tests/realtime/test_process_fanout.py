"""One channel-layer message per server process per event (project/realtime/fanout.py): the
process's channel is the group's only member in the layer, whatever the number of local
sockets, and every local socket still gets the frame, once, with its own rules (cursor dedupe,
filters, held while an `access.changed` is checked)."""

import asyncio
import json

import pytest
import redis
import websockets
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from project.accounts import services
from project.realtime import fanout
from project.realtime.services import layer_is_cross_process, publish
from tests.conftest import http_json
from workflows import services as workflows
from workflows.access import get_workflow_access

from .sockets import ORIGIN, open_ready_socket, receive_json

pytestmark = pytest.mark.django_db(transaction=True)

SOCKETS = 25


@database_sync_to_async
def new_ticket(user, token=None):
    return services.issue_ws_ticket(user, token)[1]


def layer_members(layer, group: str) -> int:
    """How many channels the layer itself holds in `group`, read from the layer's own state."""
    if layer_is_cross_process(layer):
        client = redis.Redis.from_url(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"])
        try:
            return client.zcard(layer._group_key(group))
        finally:
            client.close()
    return len(layer.groups.get(group, {}))


async def open_crowd(user, count=SOCKETS):
    return [await open_ready_socket(f"/ws/user/?ticket={await new_ticket(user)}", headers=[ORIGIN]) for _ in range(count)]


async def test_an_event_is_one_layer_message_for_the_process_and_one_frame_for_each_socket(alice):
    crowd = await open_crowd(alice)
    process = fanout.current()
    layer = get_channel_layer()
    assert len(process.groups[alice.group]) == SOCKETS
    assert layer_members(layer, alice.group) == 1  # the process channel, not 25 socket channels

    received_before, deliveries_before = process.messages_received, process.deliveries
    event = await database_sync_to_async(publish)(alice.group, "custom.hello", {"n": 1})
    frames = [await receive_json(socket) for socket in crowd]

    assert all(frame == {"type": "custom.hello", "group": alice.group, "cursor": event.pk, "data": {"n": 1}} for frame in frames)
    assert process.messages_received - received_before == 1
    assert process.deliveries - deliveries_before == SOCKETS
    for socket in crowd:
        assert await socket.receive_nothing(timeout=0.1)  # once each
        await socket.disconnect()
    assert alice.group not in process.groups
    assert layer_members(layer, alice.group) == 0  # the last socket out takes the process channel out


async def test_a_socket_whose_right_ends_closes_and_gets_nothing_more_while_the_others_go_on(acme, alice, bob):
    workflow = await database_sync_to_async(workflows.create_workflow)(acme, alice, "Fan", [(bob.email, "editor")])
    alices = await open_ready_socket(f"/ws/workflow/{workflow.pk}/?ticket={await new_ticket(alice)}", headers=[ORIGIN])
    bobs = await open_ready_socket(f"/ws/workflow/{workflow.pk}/?ticket={await new_ticket(bob)}", headers=[ORIGIN])
    for socket in (alices, bobs):  # presence of the two joins
        while (await receive_json(socket))["type"] == "presence" and not await socket.receive_nothing(timeout=0.6):
            pass

    @database_sync_to_async
    def remove_bob_then_post():
        workflows.remove_participant(get_workflow_access(alice, workflow.pk), bob.email)
        return publish(workflow.group, "custom.after", {"n": 2})

    after = await remove_bob_then_post()
    outputs = [await bobs.receive_output(timeout=3)]
    while outputs[-1]["type"] != "websocket.close":  # the removal's own events may come first
        outputs.append(await bobs.receive_output(timeout=3))
    assert outputs[-1]["code"] == 4403
    assert not any("custom.after" in output.get("text", "") for output in outputs)
    await bobs.disconnect()
    frames = []
    while not frames or frames[-1]["type"] != "custom.after":
        frames.append(await receive_json(alices))
    assert frames[-1]["cursor"] == after.pk
    await alices.disconnect()


async def test_a_replayed_event_is_not_sent_again_when_it_also_arrives_live(alice):
    socket = await open_ready_socket(f"/ws/user/?ticket={await new_ticket(alice)}", headers=[ORIGIN])
    cursor = (await database_sync_to_async(publish)(alice.group, "custom.one", {})).pk - 1
    assert (await receive_json(socket))["type"] == "custom.one"
    again = await open_ready_socket(f"/ws/user/?ticket={await new_ticket(alice)}&after={cursor}", headers=[ORIGIN])
    # open_ready_socket read the replayed event as the first frame; then `ready`, then nothing.
    assert (await receive_json(again))["type"] == "ready"
    assert await again.receive_nothing(timeout=0.3)
    await socket.disconnect()
    await again.disconnect()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="scale-out: runs on the PostgreSQL + Redis leg")
async def test_two_server_processes_are_the_groups_only_members_in_redis(daphne_processes, acme, alice, bob):
    workflow = await database_sync_to_async(workflows.create_workflow)(acme, alice, "Two", [(bob.email, "editor")])
    servers = await asyncio.to_thread(daphne_processes, 2)
    _, token = await database_sync_to_async(services.issue_api_token)(alice, "crowd")
    sockets = []
    try:
        for index in range(12):
            status, ticket = await asyncio.to_thread(http_json, "POST", f"{servers[0].url}/api/ws-ticket", token=token)
            assert status == 201
            socket = await websockets.connect(f"{servers[index % 2].ws_url}/ws/workflow/{workflow.pk}/?ticket={ticket['ticket']}")
            while json.loads(await socket.recv())["type"] != "ready":
                pass
            sockets.append(socket)
        assert layer_members(get_channel_layer(), workflow.group) == 2  # one channel per process, 12 sockets

        status, body = await asyncio.to_thread(http_json, "POST", f"{servers[1].url}/api/workflows/{workflow.pk}/messages", {"content": "to all"}, token)
        assert status == 201, body

        async def message_of(socket):
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if frame["type"] == "message.created":
                    return frame["data"]["message"]["content"]

        assert await asyncio.gather(*(message_of(socket) for socket in sockets)) == ["to all"] * 12
    finally:
        for socket in sockets:
            await socket.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="scale-out: runs on the PostgreSQL + Redis leg")
async def test_a_commit_to_many_groups_reaches_the_members_of_those_that_have_some():
    """A queue batch notifies 40 user groups, most with no socket: the layer reads every group's
    members in one pipeline and sends only where someone listens, each group its own message."""
    layer = get_channel_layer()
    heard, also_heard = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("user.901", heard)
    await layer.group_add("user.903", also_heard)
    try:
        await layer.group_send_many([(f"user.{n}", {"type": "realtime.event", "event": {"n": n}}) for n in range(900, 940)])
        assert (await asyncio.wait_for(layer.receive(heard), 2))["event"] == {"n": 901}
        assert (await asyncio.wait_for(layer.receive(also_heard), 2))["event"] == {"n": 903}
        with pytest.raises(asyncio.TimeoutError):  # nothing else for them
            await asyncio.wait_for(layer.receive(heard), 0.5)
    finally:
        await layer.group_discard("user.901", heard)
        await layer.group_discard("user.903", also_heard)

"""The real stack: daphne in its own process, a real WebSocket client, a publisher in a third."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from websockets.exceptions import InvalidStatus

from project.accounts import services
from project.accounts.models import Membership

from ..conftest import PASSWORD, http_json, run_manage

pytestmark = pytest.mark.django_db(transaction=True)


async def ticket_url(base_url, user, path="/ws/user/", **query):
    _, token = await database_sync_to_async(services.issue_api_token)(user, "live")
    status, ticket = await asyncio.to_thread(http_json, "POST", f"{base_url}/api/ws-ticket", token=token)
    assert status == 201, ticket
    params = "&".join([f"ticket={ticket['ticket']}", *(f"{k}={v}" for k, v in query.items())])
    return f"{base_url.replace('http', 'ws', 1)}{path}?{params}"


async def recv_json(socket, timeout=5):
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def test_an_event_from_a_command_reaches_a_client_of_the_live_server(live_daphne):
    alice = await database_sync_to_async(services.register_user)("alice@example.com", PASSWORD)
    async with websockets.connect(await ticket_url(live_daphne, alice)) as socket:
        ready = await recv_json(socket)
        assert ready["type"] == "ready"
        code = f"from project.realtime.services import publish; publish('user.{alice.pk}', 'custom.live', {{'n': 7}})"
        result = await asyncio.to_thread(run_manage, "shell", "--no-imports", "-c", code)
        assert result.returncode == 0, result.stderr
        event = await recv_json(socket)
        assert (event["type"], event["data"]) == ("custom.live", {"n": 7})
        assert event["cursor"] > ready["data"]["cursor"]


async def test_a_reconnecting_client_catches_up_from_its_cursor(live_daphne):
    alice = await database_sync_to_async(services.register_user)("alice@example.com", PASSWORD)
    async with websockets.connect(await ticket_url(live_daphne, alice)) as socket:
        cursor = (await recv_json(socket))["data"]["cursor"]
    code = f"from project.realtime.services import publish\nfor n in range(3): publish('user.{alice.pk}', 'custom.missed', {{'n': n}})"
    assert (await asyncio.to_thread(run_manage, "shell", "--no-imports", "-c", code)).returncode == 0
    async with websockets.connect(await ticket_url(live_daphne, alice, after=cursor)) as socket:
        frames = [await recv_json(socket) for _ in range(4)]
    assert [f["data"].get("n") for f in frames[:3]] == [0, 1, 2]
    assert frames[3]["type"] == "ready"


async def test_the_live_server_refuses_a_foreign_origin(live_daphne):
    alice = await database_sync_to_async(services.register_user)("alice@example.com", PASSWORD)
    url = await ticket_url(live_daphne, alice)
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


async def test_a_right_ended_in_another_process_closes_the_socket_without_a_frame_from_it(live_daphne):
    """dave's socket lives in the daphne process; the owner removes him from a command in a
    third process. The socket closes with 4403 though dave never sends a frame."""
    alice = await database_sync_to_async(services.register_user)("alice@example.com", PASSWORD)
    dave = await database_sync_to_async(services.register_user)("dave@example.com", PASSWORD)
    acme = await database_sync_to_async(services.create_tenant)(alice, "Acme")
    owner = await database_sync_to_async(Membership.objects.get)(user=alice, tenant=acme)
    await database_sync_to_async(services.add_member)(acme, owner, dave.email)
    async with websockets.connect(await ticket_url(live_daphne, dave, "/ws/queue/", tenant=acme.pk)) as socket:
        assert (await recv_json(socket))["type"] == "ready"
        code = (
            "from project.accounts.access import get_membership; from project.accounts.services import remove_member; "
            f"owner = get_membership(get_user_model().objects.get(email='alice@example.com'), '{acme.pk}'); "
            "remove_member(owner.tenant, owner, 'dave@example.com')"
        )
        result = await asyncio.to_thread(run_manage, "shell", "-c", "from django.contrib.auth import get_user_model; " + code)
        assert result.returncode == 0, result.stderr
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await recv_json(socket)
    assert closed.value.rcvd.code == 4403


async def test_pings_are_answered_in_the_protocol_and_other_frames_still_reach_the_consumer(live_daphne):
    """Under daphne a page's ping is answered before ASGI (fanout.answer_pings): both spellings
    get their pong, in order with what the consumer answers to the frames around them."""
    alice = await database_sync_to_async(services.register_user)("alice@example.com", PASSWORD)
    async with websockets.connect(await ticket_url(live_daphne, alice)) as socket:
        assert (await recv_json(socket))["type"] == "ready"
        for frame in ('{"type":"ping"}', '{"type": "nope"}', '{"type": "ping"}', '{ "type" : "ping" }'):
            await socket.send(frame)
        answers = [await recv_json(socket) for _ in range(4)]
        assert [answer["type"] for answer in answers] == ["pong", "error", "pong", "pong"]
        assert answers[1]["data"]["code"] == "unsupported"


async def test_a_frame_larger_than_one_send_arrives_whole_and_before_the_next(live_daphne):
    """A frame is sent at once when nothing waits before it (fanout._write_now); what one send
    does not take (over Twisted's 128 KB limit) is buffered, and the next frame queues behind it."""
    alice = await database_sync_to_async(services.register_user)("alice@example.com", PASSWORD)
    async with websockets.connect(await ticket_url(live_daphne, alice), max_size=None) as socket:
        assert (await recv_json(socket))["type"] == "ready"
        code = (
            "from project.realtime.services import publish\n"
            f"publish('user.{alice.pk}', 'custom.big', {{'blob': 'x' * 600_000}})\n"
            f"publish('user.{alice.pk}', 'custom.small', {{'n': 1}})"
        )
        assert (await asyncio.to_thread(run_manage, "shell", "--no-imports", "-c", code)).returncode == 0
        big, small = await recv_json(socket), await recv_json(socket)
        assert (big["type"], len(big["data"]["blob"])) == ("custom.big", 600_000)
        assert (small["type"], small["data"]) == ("custom.small", {"n": 1})
        assert small["cursor"] > big["cursor"]

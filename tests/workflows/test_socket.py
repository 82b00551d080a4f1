import json
import time

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from workflows import services
from workflows.access import get_workflow_access

from ..realtime.sockets import connect, expect_close, open_ready_socket, open_socket, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def browser(client, user):
    client.force_login(user)
    return session_headers(client)


@database_sync_to_async
def act(user, workflow, action, *args):
    return getattr(services, action)(get_workflow_access(user, workflow.pk), *args)


async def next_frame(communicator, timeout=3, skip=("presence",)):
    while True:
        frame = json.loads(await communicator.receive_from(timeout=timeout))
        if frame["type"] not in skip:
            return frame


@pytest.fixture
def workflow(acme, alice, bob):
    return services.create_workflow(acme, alice, "Launch plan", [(bob.email, "editor")])


async def test_a_participant_receives_another_participants_message(client, workflow, alice, bob):
    communicator = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(client, alice))
    await act(bob, workflow, "post_message", "Hello Alice")
    frame = await next_frame(communicator)
    assert frame["type"] == "message.created"
    assert frame["group"] == f"workflow.{workflow.pk}"
    assert frame["data"]["message"]["content"] == "Hello Alice"
    assert frame["data"]["message"]["sender"] == "bob@example.com"
    await communicator.disconnect()


async def test_the_socket_frames_message_is_the_one_rest_returns(client, workflow, alice, bob):
    communicator = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(client, alice))
    await act(bob, workflow, "post_message", "Same everywhere")
    frame = await next_frame(communicator)
    over_rest = await database_sync_to_async(lambda: client.get(f"/api/workflows/{workflow.pk}/messages").json())()
    assert frame["data"]["message"] == over_rest["results"][0]
    await communicator.disconnect()


async def test_an_outsider_is_closed_with_4403_and_anonymous_with_4401(client, workflow, mallory):
    _, closed = await open_socket(f"/ws/workflow/{workflow.pk}/", await browser(client, mallory))
    assert closed == {"type": "websocket.close", "code": 4403}
    _, closed = await open_socket(f"/ws/workflow/{workflow.pk}/")
    assert closed == {"type": "websocket.close", "code": 4401}
    _, closed = await open_socket("/ws/workflow/doesnotexist/", await browser(client, mallory))
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_reconnecting_with_a_cursor_replays_missed_messages(client, workflow, alice, bob):
    headers = await browser(client, alice)
    communicator = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", headers)
    await act(bob, workflow, "post_message", "seen")
    cursor = (await next_frame(communicator))["cursor"]
    await communicator.disconnect()
    for text in ["missed 1", "missed 2"]:
        await act(bob, workflow, "post_message", text)
    communicator = await connect(f"/ws/workflow/{workflow.pk}/?after={cursor}", headers)
    replayed = [await next_frame(communicator) for _ in range(3)]
    assert [f["data"]["message"]["content"] for f in replayed[:2]] == ["missed 1", "missed 2"]
    assert replayed[2]["type"] == "ready"
    await communicator.disconnect()


async def test_a_removed_participant_is_disconnected(client, workflow, alice, bob):
    communicator = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(client, bob))
    await act(alice, workflow, "remove_participant", bob.email)
    frame = await next_frame(communicator)
    assert frame["type"] == "participant.removed"
    await expect_close(communicator, 4403)


async def test_typing_reaches_the_others_not_the_typist_and_is_rate_limited(client, settings, workflow, alice, bob):
    settings.WORKFLOW_TYPING_LIMIT = 2
    alices = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(client, alice))
    from django.test import Client

    bobs = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(Client(), bob))
    for _ in range(4):
        await bobs.send_json_to({"type": "typing"})
    received = [await next_frame(alices) for _ in range(2)]
    assert received == [{"type": "typing", "group": f"workflow.{workflow.pk}", "data": {"user": "bob@example.com"}}] * 2
    # Presence frames are coalesced and may come later: only a third `typing` would be wrong.
    later = []
    while not await alices.receive_nothing(timeout=0.7):
        later.append(json.loads(await alices.receive_from()))
    assert all(f["type"] != "typing" for f in later)
    frames = []
    while not await bobs.receive_nothing(timeout=0.3):
        frames.append(json.loads(await bobs.receive_from()))
    assert all(f["type"] != "typing" for f in frames)
    await alices.disconnect()
    await bobs.disconnect()


async def test_presence_lists_who_is_connected(client, workflow, alice, bob):
    from django.test import Client

    alices = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(client, alice))
    assert (await next_frame(alices, skip=()))["data"]["users"] == ["alice@example.com"]
    bobs = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(Client(), bob))
    assert (await next_frame(alices, skip=()))["data"]["users"] == ["alice@example.com", "bob@example.com"]
    await bobs.disconnect()
    assert (await next_frame(alices, skip=()))["data"]["users"] == ["alice@example.com"]
    await alices.disconnect()


async def test_a_viewer_may_listen_but_typing_is_checked_against_current_membership(client, workflow, alice, bob):
    communicator = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await browser(client, bob))
    await act(alice, workflow, "delete_workflow")
    frame = await next_frame(communicator)
    assert frame["type"] == "workflow.deleted"
    await expect_close(communicator, 4403)


async def test_a_crowd_joining_and_leaving_gets_coalesced_presence_frames(client, settings, workflow, alice, bob):
    """One presence frame per join would be O(M²) frames for M sockets (bench/fanout.py): the
    first change goes out at once, later ones at most once per REALTIME_PRESENCE_INTERVAL."""
    settings.REALTIME_PRESENCE_INTERVAL = 1.0
    path = f"/ws/workflow/{workflow.pk}/"
    alices_browser, bobs_browser = await browser(client, alice), await browser(Client(), bob)
    started = time.monotonic()
    first = await open_ready_socket(path, alices_browser)
    crowd = [await open_ready_socket(path, bobs_browser if i % 2 else alices_browser) for i in range(15)]
    elapsed = time.monotonic() - started
    frames = []
    while not await first.receive_nothing(timeout=1.5):
        frames.append(json.loads(await first.receive_from()))
    presence = [frame["data"]["users"] for frame in frames if frame["type"] == "presence"]
    assert len(presence) <= 2 + elapsed / settings.REALTIME_PRESENCE_INTERVAL, (len(presence), elapsed)
    assert presence[0] == ["alice@example.com"]
    assert presence[-1] == ["alice@example.com", "bob@example.com"]

    for socket in crowd:
        await socket.disconnect()
    last = None
    while last != ["alice@example.com"]:
        last = (await next_frame(first, skip=()))["data"]["users"]
    await first.disconnect()

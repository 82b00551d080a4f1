import json

import pytest
from channels.db import database_sync_to_async

from notifications import services
from notifications.models import Kind
from project.realtime.services import publish
from tests.realtime.sockets import open_ready_socket, open_socket, receive_json, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def browser_of(client, user):
    client.force_login(user)
    return session_headers(client)


async def test_a_notification_is_pushed_to_the_recipients_socket(client, bob, carol):
    socket = await open_ready_socket("/ws/notifications/", await browser_of(client, bob))
    rows = await database_sync_to_async(services.notify)([bob, carol], Kind.QUEUE_REPLY, title="Answered", link="/q/")
    bobs = next(row for row in rows if row.recipient_id == bob.pk)
    frame = await receive_json(socket)
    assert frame["type"] == "notification.created"
    assert frame["group"] == f"user.{bob.pk}"
    assert frame["data"]["unread"] == 1
    assert frame["data"]["notification"]["id"] == str(bobs.pk)
    assert frame["data"]["notification"]["title"] == "Answered"
    assert await socket.receive_nothing(timeout=0.5)  # carol's copy went to carol only
    await socket.disconnect()


async def test_the_socket_frames_notification_is_the_one_rest_returns(client, bob, bob_api):
    socket = await open_ready_socket("/ws/notifications/", await browser_of(client, bob))
    await database_sync_to_async(services.notify)([bob], Kind.QUEUE_REPLY, title="Same", payload={"message_id": "7"})
    frame = await receive_json(socket)
    over_rest = (await database_sync_to_async(bob_api.get)("/api/notifications")).json()["results"]
    assert frame["data"]["notification"] == over_rest[0]
    await socket.disconnect()


async def test_both_open_tabs_of_a_user_get_the_new_count_after_a_read(client, bob):
    headers = await browser_of(client, bob)
    first_tab = await open_ready_socket("/ws/notifications/", headers)
    second_tab = await open_ready_socket(f"/notifications/{bob.email}/websocket", headers)
    for n in range(2):
        await database_sync_to_async(services.notify)([bob], Kind.QUEUE_REPLY, title=f"Reply {n}")
    for tab in (first_tab, second_tab):
        assert [(await receive_json(tab))["data"]["unread"] for _ in range(2)] == [1, 2]

    assert await database_sync_to_async(services.mark_read)(bob) == (2, 0)
    # the original route (seed 000) names the count as it always did
    for tab, name in ((first_tab, "notification_count.changed"), (second_tab, "notification.count")):
        frame = await receive_json(tab)
        assert (frame["type"], frame["data"]) == (name, {"unread": 0})
        await tab.disconnect()


async def test_an_anonymous_socket_is_closed_with_4401():
    socket, closed = await open_socket("/ws/notifications/")
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_only_notification_events_reach_the_notification_socket(client, bob):
    socket = await open_ready_socket("/ws/notifications/", await browser_of(client, bob))
    await database_sync_to_async(publish)(f"user.{bob.pk}", "tenant_member.added", {"email": "x@example.com"})
    await database_sync_to_async(services.notify)([bob], Kind.QUEUE_REPLY, title="Only me")
    assert (await receive_json(socket))["type"] == "notification.created"
    await socket.disconnect()


async def test_a_reconnecting_tab_catches_up_from_its_cursor(client, bob):
    headers = await browser_of(client, bob)
    socket = await open_ready_socket("/ws/notifications/", headers)
    first = await database_sync_to_async(services.notify)([bob], Kind.QUEUE_REPLY, title="Seen")
    cursor = (await receive_json(socket))["cursor"]
    await socket.disconnect()
    await database_sync_to_async(services.notify)([bob], Kind.QUEUE_REPLY, title="Missed")
    socket, first_frame = await open_socket(f"/ws/notifications/?after={cursor}", headers)
    missed = json.loads(first_frame["text"])
    assert missed["type"] == "notification.created"
    assert missed["data"]["notification"]["title"] == "Missed"
    assert str(first[0].pk) != missed["data"]["notification"]["id"]
    await socket.disconnect()

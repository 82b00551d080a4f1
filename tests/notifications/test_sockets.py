import json

import pytest
from channels.db import database_sync_to_async

from notifications import services
from notifications.models import Kind
from project.realtime.services import publish
from tests.realtime.sockets import open_socket, open_ready_socket, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


async def receive_json(communicator, timeout=3):
    return json.loads(await communicator.receive_from(timeout=timeout))


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
    assert frame["data"]["notification"]["id"] == bobs.pk
    assert frame["data"]["notification"]["title"] == "Answered"
    assert await socket.receive_nothing(timeout=0.5)  # carol's copy went to carol only
    await socket.disconnect()


async def test_both_open_tabs_of_a_user_get_the_new_count_after_clear(client, bob, bob_api):
    headers = await browser_of(client, bob)
    first_tab = await open_ready_socket("/ws/notifications/", headers)
    second_tab = await open_ready_socket(f"/notifications/{bob.email}/websocket", headers)
    for n in range(2):
        await database_sync_to_async(services.notify)([bob], Kind.QUEUE_REPLY, title=f"Reply {n}")
    for tab in (first_tab, second_tab):
        assert [(await receive_json(tab))["data"]["unread"] for _ in range(2)] == [1, 2]

    response = await database_sync_to_async(bob_api.post)(f"/notifications/{bob.email}/clear")
    assert response.json() == {"cleared": 2, "unread": 0}
    for tab in (first_tab, second_tab):
        frame = await receive_json(tab)
        assert (frame["type"], frame["data"]) == ("notification.count", {"unread": 0})
        await tab.disconnect()


async def test_the_original_route_refuses_someone_elses_email(client, bob, carol):
    socket, closed = await open_socket(f"/notifications/{carol.email}/websocket", await browser_of(client, bob))
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_an_anonymous_socket_is_closed_with_4401():
    socket, closed = await open_socket("/ws/notifications/")
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_only_notification_events_reach_the_notification_socket(client, bob):
    socket = await open_ready_socket("/ws/notifications/", await browser_of(client, bob))
    await database_sync_to_async(publish)(f"user.{bob.pk}", "tenant.member_added", {"email": "x@example.com"})
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
    assert first[0].pk != missed["data"]["notification"]["id"]
    await socket.disconnect()

"""`ws/inbox/`: the workflow list's live feed follows the user's participations as they change,
and carries no typing or presence."""

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from project.accounts import services as accounts
from project.accounts.models import Membership
from workflows import reading, services

from ..realtime.sockets import open_ready_socket, session_headers
from .conftest import access

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def inbox_headers(user):
    client = Client()
    client.force_login(user)
    return session_headers(client)


@database_sync_to_async
def post(user, workflow, text):
    return services.post_message(access(user, workflow), text)


async def frames_until_quiet(communicator, seconds=0.5) -> list[dict]:
    frames = []
    while not await communicator.receive_nothing(timeout=seconds):
        frames.append(json.loads(await communicator.receive_from()))
    return frames


async def test_the_inbox_hears_every_workflow_of_the_user_and_nothing_else(workflow, bob, erin, acme, alice):
    elsewhere = await database_sync_to_async(services.create_workflow)(acme, alice, "Not erin's")
    inbox = await open_ready_socket("/ws/inbox/", await inbox_headers(erin))
    thread = await open_ready_socket(f"/ws/workflow/{workflow.pk}/", await inbox_headers(bob))
    await thread.send_to(text_data=json.dumps({"type": "typing"}))
    await post(bob, workflow, "For the team")
    await post(alice, elsewhere, "Private")
    frames = await frames_until_quiet(inbox)
    assert [(f["type"], f["data"]["message"]["content"]) for f in frames] == [("message.created", "For the team")]
    await thread.disconnect()
    await inbox.disconnect()


async def test_the_inbox_joins_a_workflow_the_user_is_added_to_and_leaves_one_they_leave(workflow, bob, erin, acme):
    inbox = await open_ready_socket("/ws/inbox/", await inbox_headers(erin))
    later = await database_sync_to_async(services.create_workflow)(acme, bob, "Later")
    await database_sync_to_async(services.add_participant)(await database_sync_to_async(access)(bob, later), erin.email)
    await frames_until_quiet(inbox)
    await post(bob, later, "Welcome")
    assert [f["data"]["message"]["content"] for f in await frames_until_quiet(inbox) if f["type"] == "message.created"] == ["Welcome"]

    await database_sync_to_async(services.remove_participant)(await database_sync_to_async(access)(bob, workflow), erin.email)
    await frames_until_quiet(inbox)
    await post(bob, workflow, "After erin left")
    await post(bob, later, "Still here")
    contents = [f["data"]["message"]["content"] for f in await frames_until_quiet(inbox) if f["type"] == "message.created"]
    assert contents == ["Still here"]
    await inbox.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await inbox.receive_from()) == {"type": "pong"}  # still open, only quieter
    await inbox.disconnect()


async def test_the_inbox_of_a_member_removed_from_the_tenant_hears_none_of_its_workflows(workflow, bob, erin, acme, alice):
    """erin still has her participant row, but every workflow read is tenant-scoped."""
    inbox = await open_ready_socket("/ws/inbox/", await inbox_headers(erin))
    await post(bob, workflow, "Before")
    assert [f["type"] for f in await frames_until_quiet(inbox)] == ["message.created"]

    owner = await database_sync_to_async(Membership.objects.get)(tenant=acme, user=alice)
    await database_sync_to_async(accounts.remove_member)(acme, owner, erin.email)
    await frames_until_quiet(inbox)  # her own tenant_member.removed
    await post(bob, workflow, "After erin left Acme")
    assert await frames_until_quiet(inbox) == []
    await inbox.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await inbox.receive_from()) == {"type": "pong"}  # open: her other tenants' workflows go on
    await inbox.disconnect()


async def test_reading_in_one_tab_reaches_the_inbox_of_another(workflow, bob, erin):
    message = await post(bob, workflow, "Read me")
    inbox = await open_ready_socket("/ws/inbox/", await inbox_headers(erin))
    erins = await database_sync_to_async(access)(erin, workflow)
    await database_sync_to_async(reading.update_read_state)(erins, last_read_message_id=str(message.pk))
    [frame] = [f for f in await frames_until_quiet(inbox) if f["type"] == "read_state.updated"]
    assert frame["data"]["read_state"]["unread_count"] == 0 and frame["data"]["total_unread"] == 0
    await inbox.disconnect()

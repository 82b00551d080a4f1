"""Two real daphne processes on one database: what one process accepts reaches sockets held by
the other. Typing and presence cross processes through the channel layer, so only in
scale-out mode (Redis); the embedded mode is one server process by design."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from project.accounts import services as accounts
from workflows import services

from ..conftest import http_json

pytestmark = pytest.mark.django_db(transaction=True)
redis_only = pytest.mark.skipif(
    not settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith(".RedisChannelLayer"),
    reason="typing and presence cross processes through Redis (scale-out mode)",
)


@pytest.fixture
def workflow(acme, alice, bob):
    return services.create_workflow(acme, alice, "Across processes", [(bob.email, "editor")])


async def socket_url(server, user, workflow):
    _, token = await database_sync_to_async(accounts.issue_api_token)(user, "scale-out")
    status, ticket = await asyncio.to_thread(http_json, "POST", f"{server.url}/api/ws-ticket", token=token)
    assert status == 201, ticket
    return f"{server.ws_url}/ws/workflow/{workflow.pk}/?ticket={ticket['ticket']}", token


async def frame_of_type(socket, event_type, timeout=5):
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == event_type:
                return frame


async def test_a_message_posted_to_one_process_reaches_a_socket_on_another(daphne_processes, workflow, alice, bob):
    server_a, server_b = await asyncio.to_thread(daphne_processes, 2)
    url, _ = await socket_url(server_b, alice, workflow)
    _, bobs_token = await database_sync_to_async(accounts.issue_api_token)(bob, "poster")
    async with websockets.connect(url) as alices_socket:
        await frame_of_type(alices_socket, "ready")
        status, body = await asyncio.to_thread(
            http_json, "POST", f"{server_a.url}/api/workflows/{workflow.pk}/messages", {"content": "from A"}, bobs_token
        )
        assert status == 201, body
        frame = await frame_of_type(alices_socket, "message.created")
        assert frame["data"]["message"]["content"] == "from A"


async def test_a_message_posted_through_gunicorn_reaches_a_socket_on_daphne(
    daphne_processes, gunicorn_process, workflow, alice, bob
):
    """The scale-out HTTP tier (docs/deploy.md): gunicorn's workers write, daphne's sockets hear
    it, through Redis or, embedded, through the event log daphne's dispatcher reads."""
    (daphne,) = await asyncio.to_thread(daphne_processes, 1)
    url, _ = await socket_url(daphne, alice, workflow)
    _, bobs_token = await database_sync_to_async(accounts.issue_api_token)(bob, "poster")
    async with websockets.connect(url) as alices_socket:
        await frame_of_type(alices_socket, "ready")
        status, body = await asyncio.to_thread(
            http_json, "POST", f"{gunicorn_process.url}/api/workflows/{workflow.pk}/messages", {"content": "via WSGI"},
            bobs_token,
        )
        assert status == 201, body
        frame = await frame_of_type(alices_socket, "message.created")
        assert frame["data"]["message"]["content"] == "via WSGI"
        assert frame["data"]["message"]["id"] == body["id"]


@redis_only
async def test_typing_and_presence_cross_processes(daphne_processes, workflow, alice, bob):
    server_a, server_b = await asyncio.to_thread(daphne_processes, 2)
    alices_url, _ = await socket_url(server_b, alice, workflow)
    bobs_url, _ = await socket_url(server_a, bob, workflow)
    async with websockets.connect(alices_url) as alices_socket:
        await frame_of_type(alices_socket, "ready")
        async with websockets.connect(bobs_url) as bobs_socket:
            await frame_of_type(bobs_socket, "ready")
            presence = await frame_of_type(alices_socket, "presence")
            while presence["data"]["users"] != ["alice@example.com", "bob@example.com"]:
                presence = await frame_of_type(alices_socket, "presence")
            await bobs_socket.send(json.dumps({"type": "typing"}))
            typing = await frame_of_type(alices_socket, "typing")
            assert typing["data"] == {"user": "bob@example.com"}
        presence = await frame_of_type(alices_socket, "presence")
        assert presence["data"]["users"] == ["alice@example.com"]

"""Failure drill: Redis, the channel layer of the scale-out mode, restarts while sockets are
open. Clients reconnect and catch up from their cursor; no message is lost or doubled.

The drill runs its own Redis server, so that restarting it disturbs nothing else."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import connection

from project.accounts import services as accounts
from tests.conftest import http_json
from workflows import services as workflows

from .services import PrivateRedis

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="scale-out drill: runs on the PostgreSQL + Redis leg"),
    pytest.mark.skipif(not PrivateRedis.available, reason="needs the redis-server binary"),
]


@pytest.fixture
def redis_server():
    server = PrivateRedis()
    yield server
    server.stop()


class ReconnectingClient:
    """What static/js/live-socket.js does: reconnect with backoff, resume from the last cursor."""

    def __init__(self, server, token, workflow_id):
        self.server, self.token, self.workflow_id = server, token, workflow_id
        self.cursor = None
        self.contents: list[str] = []
        self.connections = 0

    async def run(self, until_count: int, timeout: float):
        async with asyncio.timeout(timeout):
            while len(self.contents) < until_count:
                try:
                    await self.listen(until_count)
                except (OSError, websockets.WebSocketException):
                    await asyncio.sleep(0.2)

    async def listen(self, until_count):
        status, ticket = await asyncio.to_thread(http_json, "POST", f"{self.server.url}/api/ws-ticket", token=self.token)
        if status != 201:
            raise OSError(f"no ticket: {status}")
        after = f"&after={self.cursor}" if self.cursor is not None else ""
        url = f"{self.server.ws_url}/ws/workflow/{self.workflow_id}/?ticket={ticket['ticket']}{after}"
        async with websockets.connect(url) as socket:
            self.connections += 1
            while len(self.contents) < until_count:
                frame = json.loads(await socket.recv())
                if frame["type"] == "ready":
                    self.cursor = frame["data"]["cursor"]
                elif "cursor" in frame:
                    self.cursor = frame["cursor"]
                    if frame["type"] == "message.created":
                        self.contents.append(frame["data"]["message"]["content"])


async def test_sockets_catch_up_after_redis_restarts(daphne_processes, redis_server, acme, alice, bob):
    workflow = await database_sync_to_async(workflows.create_workflow)(acme, alice, "Drill", [(bob.email, "editor")])
    server_a, server_b = await asyncio.to_thread(daphne_processes, 2, {"REDIS_URL": redis_server.url})
    _, alices_token = await database_sync_to_async(accounts.issue_api_token)(alice, "listener")
    _, bobs_token = await database_sync_to_async(accounts.issue_api_token)(bob, "poster")
    messages_url = f"{server_a.url}/api/workflows/{workflow.pk}/messages"

    async def post(text):
        status, body = await asyncio.to_thread(http_json, "POST", messages_url, {"content": text}, bobs_token)
        assert status == 201, body

    client = ReconnectingClient(server_b, alices_token, workflow.pk)
    expected = ["before", "during 1", "during 2", "after"]
    listening = asyncio.create_task(client.run(until_count=len(expected), timeout=60))
    while client.cursor is None:
        await asyncio.sleep(0.05)
    await post("before")
    while client.contents != ["before"]:
        await asyncio.sleep(0.05)

    await asyncio.to_thread(redis_server.stop)
    await post("during 1")  # stored and logged: delivery fails while Redis is down
    await post("during 2")
    await asyncio.to_thread(redis_server.start)
    await asyncio.sleep(0.5)
    await post("after")

    await listening
    assert client.contents == expected
    assert client.connections >= 2  # the drop was real: the client had to reconnect

"""Drill: sockets that say nothing stay open on the scale-out leg. redis-py 8 reads with a 5 s
socket timeout by default, as long as channels-redis's blocking BZPOPMIN: every idle consumer
died with TimeoutError and closed 1011 every 5-16 s until the layer popped for less than its read
timeout (project/realtime/layers.py, project/settings.py). Since a server process reads one channel
for all its sockets and retries a failed read (project/realtime/fanout.py), a timeout no longer
closes them: the drill reads the server's log for it instead."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from project.accounts import services
from project.realtime.services import publish
from tests.conftest import PASSWORD, http_json

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="scale-out drill: runs on the PostgreSQL + Redis leg"),
]

#: Four times the 5 s read timeout that killed idle consumers (they died within 5-16 s).
IDLE_SECONDS = 20


async def test_idle_sockets_stay_open_then_receive_an_event(daphne_processes):
    server = (await asyncio.to_thread(daphne_processes, 1))[0]
    alice = await database_sync_to_async(services.register_user)("alice@example.com", PASSWORD)
    _, token = await database_sync_to_async(services.issue_api_token)(alice, "idle")
    sockets = []
    for _ in range(3):
        status, ticket = await asyncio.to_thread(http_json, "POST", f"{server.url}/api/ws-ticket", token=token)
        assert status == 201
        # No protocol pings either: nothing at all crosses the socket while it idles.
        socket = await websockets.connect(f"{server.ws_url}/ws/user/?ticket={ticket['ticket']}", ping_interval=None)
        assert json.loads(await socket.recv())["type"] == "ready"
        sockets.append(socket)
    try:
        await asyncio.sleep(IDLE_SECONDS)
        assert [socket.close_code for socket in sockets] == [None, None, None], server.log_tail()
        log = server.log_tail(10_000_000)
        assert "process channel receive failed" not in log, log[-3000:]  # the read timed out
        event = await database_sync_to_async(publish)(alice.group, "custom.after_idle", {"n": 1})
        for socket in sockets:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 5))
            assert (frame["type"], frame["cursor"]) == ("custom.after_idle", event.pk)
    finally:
        for socket in sockets:
            await socket.close()

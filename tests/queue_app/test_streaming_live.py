"""The real stack for streamed replies: daphne in its own process, `manage.py run_bot` in
another (so in embedded mode it cannot reach the server's in-memory layer), the model server
speaking OpenAI's SSE, and a real WebSocket client on the stream."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async

from queue_app import services

from ..conftest import run_manage
from ..realtime.test_live_server import recv_json, ticket_url
from .model_server import model_server, openai_stream  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_bot_in_another_process_streams_to_the_page_in_several_frames(live_daphne, alice, model_server):  # noqa: F811
    model_server.push(openai_stream(["Buy ", "the ", "ticket, ", "take ", "the ", "ride."], chunk_delay=0.4))
    async with websockets.connect(await ticket_url(live_daphne, alice, "/ws/queue/")) as socket:
        assert (await recv_json(socket))["type"] == "ready"
        message = await database_sync_to_async(services.post_message)(alice, "what now?")
        bot = asyncio.create_task(asyncio.to_thread(
            run_manage, "run_bot", "--once", "--provider", "openai",
            OPENAI_BASE_URL=model_server.url + "/v1", OPENAI_API_KEY="sk-test", QUEUE_STREAM_INTERVAL_SECONDS="0.1"))
        frames = []
        while not frames or frames[-1]["type"] != "queue_message.answered":
            frames.append(await recv_json(socket, timeout=20))
        result = await bot
    assert result.returncode == 0, result.stderr
    partials = [f["data"]["partial_text"] for f in frames if f["type"] == "streaming"]
    assert len(partials) >= 2, [f["type"] for f in frames]
    assert all(f["data"]["message_id"] == message.pk for f in frames if f["type"] == "streaming")
    assert partials == sorted(partials, key=len)
    assert frames[-1]["data"]["reply"]["text"] == "Buy the ticket, take the ride."

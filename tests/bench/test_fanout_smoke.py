"""The benchmark code must not rot: the fan-out harness end to end with 20 clients against a real
daphne on the test database (embedded leg only; `bin/bench` itself is not part of the suite)."""

import asyncio
import json
import sys

import pytest
from django.conf import settings

from bench import fanout
from bench.harness import Server, async_http, free_port, latency_summary, percentile
from bench.seed import fanout as seed_fanout

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="embedded leg only"),
]


def test_percentiles_use_the_nearest_rank():
    assert percentile(list(range(1, 101)), 50) == 50
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([], 50) is None
    assert latency_summary([0.001, 0.002]) == {"count": 2, "p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 2.0}


def test_twenty_clients_receive_every_message_from_harbor_and_from_the_baseline(daphne_processes, tmp_path):
    seeded = seed_fanout(sockets=20, users=5)
    (server,) = daphne_processes(1)
    urls = [f"{server.ws_url}/ws/workflow/{seeded['workflow_id']}/?ticket={ticket}" for ticket in seeded["tickets"]]

    async def post(token):
        status, _ = await async_http(
            "POST",
            f"{server.url}/api/workflows/{seeded['workflow_id']}/messages",
            json.dumps({"content": token}).encode(),
            {"Authorization": f"Bearer {seeded['token']}", "Content-Type": "application/json"},
        )
        return status

    harbor = asyncio.run(fanout.measure(urls, post, rounds=2))
    assert harbor["delivered_per_round"] == [20, 20]
    assert harbor["post_statuses"] == [201, 201]
    assert harbor["latency"]["count"] == 40

    port = free_port()
    baseline_server = Server([sys.executable, "-m", "bench.baselines", "broadcast", str(port)], None, port, tmp_path / "log")
    try:
        baseline_server.wait_until_ready()

        async def post_baseline(token):
            return (await async_http("GET", f"{baseline_server.url}/post?content={token}"))[0]

        baseline = asyncio.run(fanout.measure([f"{baseline_server.ws_url}/ws"] * 20, post_baseline, rounds=2))
    finally:
        baseline_server.stop()
    assert baseline["delivered_per_round"] == [20, 20]


def test_twenty_clients_receive_every_message_from_the_vanilla_channels_peer(tmp_path):
    """The peer embedded (in-memory layer, one daphne): the same client as Harbor's leg."""
    port = free_port()
    env = fanout.peer_env(scale_out=False)
    peer = Server([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "bench.peers.vanilla_channels.asgi:application"],
                  env, port, tmp_path / "peer.log")
    try:
        peer.wait_until_ready()

        async def post(token):
            return (await async_http("GET", f"{peer.url}/post?content={token}"))[0]

        measured = asyncio.run(fanout.measure([f"{peer.ws_url}/ws/"] * 20, post, rounds=2))
    finally:
        peer.stop()
    assert measured["delivered_per_round"] == [20, 20]
    assert measured["post_statuses"] == [201, 201]

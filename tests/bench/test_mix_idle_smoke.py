"""The realistic-mix and idle-socket harnesses must not rot: both end to end with a handful of
sockets against a real daphne on the test database, and against the websockets rooms baseline
(embedded leg only; `bin/bench` itself is not part of the suite)."""

import asyncio
import json

import pytest
from django.conf import settings

from bench import idle, mix
from bench.harness import async_http
from bench.seed import rooms as seed_rooms

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="embedded leg only"),
]


def harbor_urls(server, seeded):
    return [
        (room, [f"{server.ws_url}/ws/workflow/{seeded_room['workflow_id']}/?ticket={ticket}" for ticket in tickets])
        for room, seeded_room in enumerate(seeded)
        for tickets in seeded_room["tickets"]
    ]


def test_the_schedule_is_steady_and_the_same_for_every_leg():
    plan = mix.schedule(rooms=3, rate=10, duration=2)
    assert [offset for offset, _ in plan] == [index / 10 for index in range(20)]
    assert plan == mix.schedule(rooms=3, rate=10, duration=2)
    assert {room for _, room in plan} <= {0, 1, 2}


def test_every_socket_of_a_room_gets_its_posts_from_harbor_and_from_the_baseline(daphne_processes, tmp_path):
    seeded = seed_rooms(workflows=3, participants=5)["rooms"]
    (server,) = daphne_processes(1)
    plan = mix.schedule(rooms=3, rate=10, duration=1)

    async def post(room, index, content):
        seeded_room = seeded[room]
        status, _ = await async_http(
            "POST", f"{server.url}/api/workflows/{seeded_room['workflow_id']}/messages",
            json.dumps({"content": content}).encode(),
            {"Authorization": f"Bearer {seeded_room['tokens'][index % 5]}", "Content-Type": "application/json"},
        )
        return status

    harbor = asyncio.run(mix.measure(harbor_urls(server, seeded), post, plan))
    assert harbor["connected"] == 15
    assert harbor["post_statuses"] == {"201": 10}
    assert harbor["delivered_pct"] == 100.0 and harbor["expected_deliveries"] == 50
    assert harbor["closed_during_run"] == 0

    baseline_server = mix.start_rooms_server(tmp_path)
    try:
        async def post_baseline(room, index, content):
            return (await async_http("GET", f"{baseline_server.url}/post?room={room}&content={content}"))[0]

        urls = [(room, [f"{baseline_server.ws_url}/ws/{room}"]) for room in range(3) for _ in range(5)]
        baseline = asyncio.run(mix.measure(urls, post_baseline, plan))
    finally:
        baseline_server.stop()
    assert baseline["delivered_pct"] == 100.0


def test_idle_sockets_are_held_pinging_and_measured(daphne_processes, tmp_path):
    seeded = seed_rooms(workflows=2, participants=5)["rooms"]
    (server,) = daphne_processes(1)
    urls = [attempts for _, attempts in harbor_urls(server, seeded)]
    harbor = idle.hold(urls, [server.process.pid], hold_seconds=2, ping_seconds=0.5)
    assert harbor["connected"] == 10 and harbor["closed_during_hold"] == 0
    assert harbor["pongs"] >= 10
    assert harbor["cpu_pct_of_one_core"] >= 0 and harbor["rss_per_socket_kb"] is not None

    baseline_server = mix.start_rooms_server(tmp_path)
    try:
        baseline = idle.hold([[f"{baseline_server.ws_url}/ws/0"]] * 10, [baseline_server.pid], 2, 0.5)
    finally:
        baseline_server.stop()
    assert baseline["connected"] == 10 and baseline["closed_during_hold"] == 0 and baseline["pongs"] >= 10

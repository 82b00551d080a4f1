"""Presence frames are coalesced per group (project/realtime/presence.py): a crowd must not cost
O(M²) frames. The socket-level behaviour is in tests/workflows/test_socket.py."""

import asyncio
import json
import time

import pytest

from project.realtime import presence
from project.realtime.layers import EmbeddedChannelLayer

pytestmark = pytest.mark.django_db(transaction=True)


async def listener(group):
    layer = EmbeddedChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel


async def test_the_first_change_goes_at_once_and_later_ones_fold_into_one_frame(settings, alice, bob):
    settings.REALTIME_PRESENCE_INTERVAL = 0.3
    layer, channel = await listener("workflow.p1")
    await presence.join("workflow.p1", "socket-a", alice)
    await presence.announce("workflow.p1", layer)
    assert json.loads((await layer.receive(channel))["text"])["data"]["users"] == ["alice@example.com"]

    await presence.join("workflow.p1", "socket-b", bob)
    await presence.announce("workflow.p1", layer)  # scheduled for the end of the interval
    await presence.leave("socket-b")
    await presence.announce("workflow.p1", layer)  # folded into the scheduled frame
    frame = json.loads((await asyncio.wait_for(layer.receive(channel), 3))["text"])
    assert frame == {"type": "presence", "group": "workflow.p1", "data": {"users": ["alice@example.com"]}}
    await asyncio.sleep(0.6)
    assert channel not in layer.channels  # and nothing after it: the two changes made one frame


async def test_a_bigger_group_gets_presence_less_often(settings, monkeypatch, alice, bob, mallory):
    settings.REALTIME_PRESENCE_INTERVAL = 0.2
    monkeypatch.setattr(presence, "PRESENCE_USERS_PER_INTERVAL", 1)  # one interval per user present
    layer, channel = await listener("workflow.p2")
    for index, user in enumerate([alice, bob, mallory]):
        await presence.join("workflow.p2", f"socket-{index}", user)
    await presence.announce("workflow.p2", layer)
    await layer.receive(channel)
    started = time.monotonic()
    await presence.announce("workflow.p2", layer)
    await asyncio.wait_for(layer.receive(channel), 5)
    assert time.monotonic() - started >= 0.5  # 3 users × 0.2 s, not 0.2 s


async def test_pings_keep_their_sockets_present_and_are_written_together(monkeypatch, alice, bob, carol):
    from datetime import timedelta

    from channels.db import database_sync_to_async
    from django.utils import timezone

    from project.realtime.models import Presence

    monkeypatch.setattr(presence, "TOUCH_INTERVAL_SECONDS", 0.1)
    for channel_name, user in (("socket-a", alice), ("socket-b", bob), ("socket-c", carol)):
        await presence.join("workflow.p3", channel_name, user)
    stale = timezone.now() - presence.PRESENCE_TTL - timedelta(seconds=1)
    await database_sync_to_async(Presence.objects.update)(last_seen=stale)

    presence.touch("socket-a")
    presence.touch("socket-b")
    await presence.leave("socket-b")  # gone before the write: the write must not bring it back
    await asyncio.sleep(0.3)
    assert await presence.users_in("workflow.p3") == ["alice@example.com"]
    assert await database_sync_to_async(Presence.objects.count)() == 1


async def test_joining_again_on_the_same_channel_moves_the_row(alice, bob):
    from channels.db import database_sync_to_async

    from project.realtime.models import Presence

    await presence.join("workflow.p4", "socket-a", alice)
    await presence.join("workflow.p5", "socket-a", bob)
    rows = await database_sync_to_async(lambda: list(Presence.objects.values_list("group", "user__email")))()
    assert rows == [("workflow.p5", "bob@example.com")]

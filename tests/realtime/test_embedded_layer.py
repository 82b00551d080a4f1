"""The embedded channel layer (project/realtime/layers.py): Channels' in-memory layer without its
per-message scans, same delivery rules."""

import asyncio
import logging

from project.realtime.layers import EmbeddedChannelLayer


async def test_a_group_send_reaches_every_member_once():
    layer = EmbeddedChannelLayer()
    channels = [await layer.new_channel() for _ in range(500)]
    for channel in channels:
        await layer.group_add("workflow.big", channel)
    await layer.group_send("workflow.big", {"type": "realtime.event", "n": 1})
    received = [await asyncio.wait_for(layer.receive(channel), 1) for channel in channels]
    assert received == [{"type": "realtime.event", "n": 1}] * 500
    assert all(layer.channels.get(channel) is None or layer.channels[channel].empty() for channel in channels)


async def test_the_sender_keeps_its_own_message():
    layer = EmbeddedChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    message = {"type": "x", "data": {"items": [1]}}
    await layer.group_send("g", message)
    message["data"]["items"].append(2)
    assert await layer.receive(channel) == {"type": "x", "data": {"items": [1]}}


async def test_a_full_channel_loses_the_message_loudly_and_the_others_still_get_it(caplog):
    layer = EmbeddedChannelLayer(capacity=1)
    slow, fast = await layer.new_channel(), await layer.new_channel()
    for channel in (slow, fast):
        await layer.group_add("g", channel)
    await layer.group_send("g", {"type": "x", "n": 1})
    assert await layer.receive(fast) == {"type": "x", "n": 1}
    with caplog.at_level(logging.WARNING, logger="project.realtime.layers"):
        await layer.group_send("g", {"type": "x", "n": 2})
    assert "1 of 2 channels full in group g" in caplog.text
    assert await layer.receive(fast) == {"type": "x", "n": 2}
    assert await layer.receive(slow) == {"type": "x", "n": 1}
    assert layer.channels.get(slow) is None  # n=2 never reached it


async def test_a_discarded_member_gets_nothing():
    layer = EmbeddedChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await layer.group_discard("g", channel)
    await layer.group_send("g", {"type": "x"})
    assert channel not in layer.channels

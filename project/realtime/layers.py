"""The embedded mode's channel layer."""

import asyncio
import logging
import time
from copy import deepcopy

from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)


class EmbeddedChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer without two costs that grow with the square of a group's size
    (measured in bench/fanout.py with 1,000 sockets on one workflow):

    - it looked for expired messages in every channel and every group on each `receive()` and
      `group_send()`, so one message to M sockets cost M scans of M channels; messages expire
      after `expiry` (60 s), so a scan at most once a second is plenty;
    - `group_send()` made a task and a deep copy of the message per member; here the members
      share one copy (consumers only read messages, as channels_redis already shares one
      deserialised message among a process's channels), put straight on each queue.

    Like every channel layer it delivers at most once: a full channel (`capacity`) loses the
    message, which is logged here; clients catch up from their cursor."""

    CLEAN_INTERVAL = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cleaned_at = float("-inf")

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._cleaned_at >= self.CLEAN_INTERVAL:
            self._cleaned_at = now
            super()._clean_expired()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = list(self.groups.get(group, ()))
        if not members:
            return
        item = (time.time() + self.expiry, deepcopy(message))
        full = 0
        for channel in members:
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                full += 1
        if full:
            logger.warning("%s of %s channels full in group %s: message dropped for them", full, len(members), group)

"""Harbor's channel layers: the embedded mode's in-memory one, and channels-redis for scale-out."""

import asyncio
import logging
import time
from copy import deepcopy

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer

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


class RedisChannelLayer(ChannelsRedisLayer):
    """channels-redis with its blocking pop shorter than the Redis read timeout. redis-py 8 reads
    with a 5 s socket timeout by default, exactly channels-redis's BZPOPMIN timeout: every idle
    consumer died with TimeoutError and closed 1011 every few seconds. A pop of at most 2 s keeps
    the read timeout short (REDIS_SOCKET_TIMEOUT), so that a Redis that died fails a command in
    seconds instead of hanging it."""

    brpop_timeout = 2

    #: Groups with members sent to at once by `group_send_many`.
    CONCURRENT_GROUPS = 32

    async def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """`group_send` of each (group, message), most groups of a commit having no member: a
        queue batch notifies 40 authors' user groups, of whom few have a tab open. channels-redis
        spends two round trips per group finding its members before it knows; here one
        pipeline per Redis connection reads every group's members, and only groups that have
        some are sent to (by channels-redis's own `group_send`)."""
        by_connection: dict[int, list[tuple[str, dict]]] = {}
        for group, message in messages:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_connection.setdefault(self.consistent_hash(group), []).append((group, message))
        expired = int(time.time()) - self.group_expiry
        heard = []
        for index, pairs in by_connection.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group, _ in pairs:
                pipe.zremrangebyscore(self._group_key(group), min=0, max=expired)
                pipe.zrange(self._group_key(group), 0, -1)
            members = (await pipe.execute())[1::2]
            heard += [pair for pair, present in zip(pairs, members) if present]
        limit = asyncio.Semaphore(self.CONCURRENT_GROUPS)

        async def send(group, message):
            async with limit:
                await self.group_send(group, message)

        await asyncio.gather(*(send(group, message) for group, message in heard))

"""Scale-out: sockets must not outlive a Redis restart deaf.

channels-redis keeps group memberships in Redis only, so a Redis that restarts (it keeps nothing
on disk here) has forgotten every group: the consumers reconnect to it and stay open, but no
event reaches them again, and what was published while it was down is lost from the layer. Each
server process therefore watches Redis's `run_id` (it changes on every start) while it holds
sockets; when it changes, the process's channel joins its groups again (project/realtime/
fanout.py) and the process closes its sockets with 4503: clients reconnect and catch up from
their cursor, as after any drop (what was published while Redis was down never reached the layer).

Until redis-py 8, its 5 s read timeout killed every idle consumer every few seconds, which hid
this: each reconnect joined the groups again."""

import asyncio
import logging

from django.conf import settings

from . import fanout

logger = logging.getLogger(__name__)

#: Clients reconnect with backoff after it. An application code: daphne (autobahn) refuses to
#: send 1012 "Service Restart", the protocol's own.
CLOSE_LAYER_RESTARTED = 4503

_watches: dict[asyncio.AbstractEventLoop, "LayerWatch"] = {}


class LayerWatch:
    def __init__(self, layer):
        self.layer = layer
        self.sockets: set = set()
        self.run_id: str | None = None
        self.task: asyncio.Task | None = None

    async def run(self):
        self.run_id = await self._run_id()
        while self.sockets:
            await asyncio.sleep(settings.REALTIME_LAYER_CHECK_SECONDS)
            current = await self._run_id()
            if current and self.run_id and current != self.run_id:
                logger.warning("Redis restarted: closing %s sockets so that they join their groups again", len(self.sockets))
                # First the process channel's groups, so that a socket connecting from now on
                # (or reconnecting before its old one's disconnect ran) is heard.
                process_fanout = fanout.current()
                if process_fanout is not None:
                    try:
                        await process_fanout.rejoin()
                    except Exception:  # down again: the next change of run_id comes back here
                        logger.warning("process channel could not rejoin its groups", exc_info=True)
                for consumer in list(self.sockets):
                    try:
                        await consumer.close(code=CLOSE_LAYER_RESTARTED)
                    except Exception:  # a consumer the outage killed: its socket is gone already
                        logger.info("socket already closed", exc_info=True)
                    self.sockets.discard(consumer)
            self.run_id = current or self.run_id

    async def _run_id(self) -> str | None:
        try:
            return (await self.layer.connection(0).info("server")).get("run_id")
        except Exception:  # Redis is down: compare once it answers again
            return None


def watch(consumer) -> None:
    """Called by each socket once it joined its groups (cross-process layers only)."""
    loop = asyncio.get_running_loop()
    current = _watches.get(loop)
    if current is None or current.task is None or current.task.done():
        current = _watches[loop] = LayerWatch(consumer.channel_layer)
        current.task = loop.create_task(current.run(), name="realtime-layer-watch")
    current.sockets.add(consumer)


def unwatch(consumer) -> None:
    current = _watches.get(asyncio.get_running_loop())
    if current is not None:
        current.sockets.discard(consumer)

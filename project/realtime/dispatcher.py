"""Embedded mode's bridge across processes.

With the in-memory channel layer, a worker or cron command cannot reach the server's sockets.
While sockets are connected, the server process runs one dispatcher that reads new rows from the
event log every REALTIME_DISPATCH_INTERVAL seconds and sends them to their groups. Events the
server wrote itself are sent at once after commit and skipped here; a socket drops the rare
duplicate by cursor.
"""

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Max

from .models import Event
from .services import by_group, layer_message

logger = logging.getLogger(__name__)

#: On PostgreSQL a rolled-back insert leaves a permanent hole in the ids, while a slow
#: transaction leaves a temporary one. A hole older than this is taken to be permanent.
GAP_GRACE_SECONDS = 5.0
BATCH_SIZE = 1000

_dispatcher = None
#: Callables `source(since) -> (frames, since)` read on every poll: transient frames (not in
#: the log) whose state other processes write to the database, e.g. a bot's partial answer
#: (queue_app.services.streaming_since). `since` starts as None: "from now".
_transient_sources: list = []


def register_transient_source(source) -> None:
    if source not in _transient_sources:
        _transient_sources.append(source)


class Dispatcher:
    def __init__(self, layer):
        self.layer = layer
        self.loop = asyncio.get_running_loop()
        self.floor = 0  # every id <= floor has been handled
        self.seen: set[int] = set()  # handled ids above the floor
        self.sent_locally: set[int] = set()
        self.gap_since: float | None = None
        self.sockets = 0
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()
        self.transient_since: dict = {}

    async def start(self):
        # Read the floor before any socket replays from the log: an event committed between
        # the replay's read and the first poll must still be delivered live.
        try:
            self.floor = await database_sync_to_async(_latest_event_id)()
            self.task = self.loop.create_task(self._run(), name="realtime-dispatcher")
        finally:
            self.ready.set()

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def stop(self):
        if self.task:
            self.task.cancel()

    async def _run(self):
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("realtime dispatcher poll failed")
            await asyncio.sleep(settings.REALTIME_DISPATCH_INTERVAL)

    async def poll(self):
        ids, frames = await database_sync_to_async(_events_after)(self.floor, set(self.sent_locally))
        found = []
        for cursor in ids:
            if cursor in self.seen:
                continue
            self.seen.add(cursor)
            if cursor in self.sent_locally:
                self.sent_locally.discard(cursor)
                continue
            frame = frames.get(cursor)
            if frame is not None:
                found.append(frame)
        await self._send(found)
        self._advance_floor()
        for source in list(_transient_sources):
            frames, self.transient_since[source] = await database_sync_to_async(source)(self.transient_since.get(source))
            await self._send_transient(frames)

    async def _send_transient(self, frames):
        from .services import transient_layer_messages

        for group, message in transient_layer_messages(frames):
            await self.layer.group_send(group, message)

    def _advance_floor(self):
        while self.floor + 1 in self.seen:
            self.floor += 1
            self.seen.discard(self.floor)
        if not self.seen:
            self.gap_since = None
            return
        now = time.monotonic()
        if self.gap_since is None:
            self.gap_since = now
        elif now - self.gap_since > GAP_GRACE_SECONDS:
            self.floor = min(self.seen) - 1
            self.gap_since = None
            self._advance_floor()
        self.sent_locally = {c for c in self.sent_locally if c > self.floor}

    def send_soon(self, frames: list[dict]) -> None:
        """Deliver committed events now; callable from any thread."""
        for frame in frames:
            self.sent_locally.add(frame["cursor"])
        asyncio.run_coroutine_threadsafe(self._send(frames), self.loop)

    async def _send(self, frames):
        for group, group_frames in by_group(frames).items():
            await self.layer.group_send(group, layer_message(group_frames))


def _latest_event_id() -> int:
    return Event.objects.aggregate(latest=Max("id"))["latest"] or 0


def _events_after(cursor: int, sent_locally: set[int]) -> tuple[list[int], dict[int, dict]]:
    """The ids after `cursor`, and the frames of those this process did not send itself. Ids
    first: one message to a workflow of 1,000 participants writes 1,000 events (its own and the
    notifications), all sent already, and loading them back was a sixth of the server's time."""
    ids = list(Event.objects.filter(id__gt=cursor).order_by("id").values_list("id", flat=True)[:BATCH_SIZE])
    wanted = [event_id for event_id in ids if event_id not in sent_locally]
    events = Event.objects.filter(id__in=wanted) if wanted else []
    return ids, {event.pk: event.as_frame() for event in events}


def running_dispatcher() -> Dispatcher | None:
    dispatcher = _dispatcher
    return dispatcher if dispatcher is not None and dispatcher.running else None


async def acquire(layer) -> None:
    """Called by each connecting socket; starts the dispatcher on the first one."""
    global _dispatcher
    dispatcher = _dispatcher
    if dispatcher is None or dispatcher.loop is not asyncio.get_running_loop() or (
        dispatcher.ready.is_set() and not dispatcher.running
    ):
        dispatcher = _dispatcher = Dispatcher(layer)
        dispatcher.sockets += 1
        await dispatcher.start()
    else:
        dispatcher.sockets += 1
        await dispatcher.ready.wait()


def release() -> None:
    """Called by each closing socket; stops the dispatcher after the last one."""
    global _dispatcher
    if _dispatcher is None or _dispatcher.loop is not asyncio.get_running_loop():
        return
    _dispatcher.sockets -= 1
    if _dispatcher.sockets <= 0:
        _dispatcher.stop()
        _dispatcher = None

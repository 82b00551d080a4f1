"""Presence rows: one per open socket that tracks presence. A row whose socket died without
closing (a killed process) stops counting once its last ping is older than PRESENCE_TTL.

Joins and leaves are announced to the group through `announce()`, which coalesces them: a
thousand sockets joining one workflow must not cost a thousand presence frames to each of them
(half a million frames and as many presence queries, measured in bench/fanout.py)."""

import asyncio
import json
import logging
import time
import weakref
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from .models import Presence

logger = logging.getLogger(__name__)

#: Pages ping every 30 s and a ping's touch is written within TOUCH_INTERVAL_SECONDS: a row is
#: at most 40 s old while its socket lives, 70 s after one lost ping; then the user is gone.
PRESENCE_TTL = timedelta(seconds=75)


@database_sync_to_async
def join(group: str, channel_name: str, user) -> None:
    # One upsert: update_or_create was a transaction of four round trips (BEGIN, SELECT … FOR
    # UPDATE, INSERT, COMMIT), 12 % of a connect storm's server time on PostgreSQL (bench/idle.py).
    Presence.objects.bulk_create(
        [Presence(group=group, channel_name=channel_name, user=user, last_seen=timezone.now())],
        update_conflicts=True, unique_fields=["channel_name"], update_fields=["group", "user", "last_seen"],
    )


#: How long a ping's touch waits to be written together with the others of its process (see
#: PRESENCE_TTL).
TOUCH_INTERVAL_SECONDS = 10.0
#: Channel names per UPDATE (SQLite's limit on variables is the lowest we meet).
TOUCH_BATCH = 500


def touch(channel_name: str) -> None:
    """Mark a socket seen now. Returns at once: its process writes every socket touched in the
    last TOUCH_INTERVAL_SECONDS in one UPDATE, instead of one UPDATE (and one trip to the
    database thread) per ping: 5,000 idle sockets make 200 pings a second."""
    _toucher().touch(channel_name)


async def leave(channel_name: str) -> None:
    _toucher().forget(channel_name)
    await _delete(channel_name)


@database_sync_to_async
def _delete(channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).delete()


@database_sync_to_async
def _touch_many(channel_names: list[str], seen) -> None:
    for start in range(0, len(channel_names), TOUCH_BATCH):
        Presence.objects.filter(channel_name__in=channel_names[start:start + TOUCH_BATCH]).update(last_seen=seen)


class _Toucher:
    """Per event loop: the sockets pinged since the last write, and the task that writes them."""

    def __init__(self):
        self.pending: set[str] = set()
        self.task: asyncio.Task | None = None

    def touch(self, channel_name: str) -> None:
        self.pending.add(channel_name)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._write_soon(timezone.now()))

    def forget(self, channel_name: str) -> None:
        self.pending.discard(channel_name)

    async def _write_soon(self, seen) -> None:
        # `seen` is the first ping's time: no row is ever marked later than its socket's ping.
        try:
            await asyncio.sleep(TOUCH_INTERVAL_SECONDS)
        finally:
            names, self.pending, self.task = sorted(self.pending), set(), None
        try:
            await _touch_many(names, seen)
        except Exception:
            # A hint: the next ping writes it again, well within PRESENCE_TTL.
            logger.exception("presence touch failed", extra={"sockets": len(names)})


_touchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Toucher]" = weakref.WeakKeyDictionary()


def _toucher() -> _Toucher:
    loop = asyncio.get_running_loop()
    toucher = _touchers.get(loop)
    if toucher is None:
        toucher = _touchers[loop] = _Toucher()
    return toucher


#: When this process last removed a group's stale rows (see users_in).
_pruned_at: dict[str, float] = {}


@database_sync_to_async
def users_in(group: str) -> list[str]:
    """Who is connected to `group`: one query. Rows older than PRESENCE_TTL (their process died
    without closing them) do not count; they are deleted at most once per PRESENCE_TTL per group
    and process, not before every frame: a connect storm reads this for every group it joins."""
    cutoff = timezone.now() - PRESENCE_TTL
    now = time.monotonic()
    if now - _pruned_at.get(group, float("-inf")) > PRESENCE_TTL.total_seconds():
        if len(_pruned_at) > 10_000:
            _pruned_at.clear()
        _pruned_at[group] = now
        Presence.objects.filter(group=group, last_seen__lt=cutoff).delete()
    emails = Presence.objects.filter(group=group, last_seen__gte=cutoff).values_list("user__email", flat=True).distinct()
    return sorted(emails)


#: A presence frame lists everyone, so its size grows with the group: past this many users the
#: interval grows in proportion, keeping the bytes per second a crowd costs bounded.
PRESENCE_USERS_PER_INTERVAL = 100


class _Announcer:
    """Per event loop (one per server process): at most one presence frame per group per
    interval (REALTIME_PRESENCE_INTERVAL, longer for groups of more than
    PRESENCE_USERS_PER_INTERVAL users). The first change after a quiet interval is sent at once;
    changes within the interval are folded into one frame sent when it ends, which reads the
    state of that moment. A frame may therefore skip intermediate states, never the latest one."""

    def __init__(self):
        self.pending: dict[str, asyncio.Task] = {}
        self.next_at: dict[str, float] = {}

    def changed(self, group: str, layer) -> tuple[asyncio.Task | None, bool]:
        """Schedule a frame unless one is pending; returns (its task, whether it goes now)."""
        if group in self.pending:
            return None, False  # the scheduled frame will read the new state
        delay = max(self.next_at.get(group, float("-inf")) - time.monotonic(), 0.0)
        task = asyncio.get_running_loop().create_task(self._send(group, layer, delay))
        self.pending[group] = task
        return task, delay == 0.0

    async def _send(self, group: str, layer, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
        finally:
            # Before reading: a change during the read schedules the next frame.
            self.pending.pop(group, None)
        interval = settings.REALTIME_PRESENCE_INTERVAL
        self.next_at[group] = time.monotonic() + interval
        if len(self.next_at) > 10_000:  # forget quiet groups
            now = time.monotonic()
            self.next_at = {g: t for g, t in self.next_at.items() if t > now}
        try:
            users = await users_in(group)
            self.next_at[group] += interval * (max(len(users), PRESENCE_USERS_PER_INTERVAL) / PRESENCE_USERS_PER_INTERVAL - 1)
            frame = {"type": "presence", "group": group, "data": {"users": users}}
            await layer.group_send(group, transient_message(frame))
        except Exception:
            # Nobody awaits a coalesced frame; presence is a hint, the next change resends it.
            logger.exception("presence broadcast failed", extra={"group": group})


_announcers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Announcer]" = weakref.WeakKeyDictionary()


async def announce(group: str, layer) -> None:
    """Tell `group` who is connected now, coalesced with other joins and leaves (see _Announcer).
    Returns at once unless this change is the first after a quiet interval."""
    loop = asyncio.get_running_loop()
    announcer = _announcers.get(loop)
    if announcer is None:
        announcer = _announcers[loop] = _Announcer()
    task, now = announcer.changed(group, layer)
    if now:
        # A lone join's frame goes out before connect() returns, as it always has.
        await task


def transient_message(frame: dict, exclude: str | None = None) -> dict:
    """The channel-layer message of a frame that is neither stored nor replayed (typing,
    presence). The JSON is encoded once here rather than once per receiving socket."""
    message = {"type": "realtime.transient", "text": json.dumps(frame)}
    if exclude:
        message["exclude"] = exclude
    return message

"""Each server process re-checks its sockets' rights in batches, not one socket at a time.

A right that ends publishes `access.changed` and its sockets check themselves at once
(project/realtime/consumers.py). The periodic re-check is the safety net for what sends no
event — a token or session that simply expires, a row changed in bulk, a layer message
dropped — so every socket is checked again about every REALTIME_ACCESS_RECHECK_SECONDS.

Done per socket (a task each, two worker-thread trips and four queries per check), that net was
most of an idle process's CPU: 5,000 pinging sockets cost 57 % of a core, nearly all of it here
(docs/performance.md, idle sockets). Here one task per event loop wakes every tenth of the
period, takes the sockets that are due, and checks them in one worker-thread trip per
`BATCH_SIZE`: one query for their users, one for their tokens, a session read per distinct
session, and their rights decided once per distinct (user, route), by each consumer class for
all its sockets at once (`allowed_groups_many`: one statement for every workflow socket). A
user's sockets on one route share their schedule, so ten tabs of one page cost one check.
"""

import asyncio
import logging
import random
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

from .services import validate_group

logger = logging.getLogger(__name__)

#: Sockets checked per worker-thread trip: bounds how long other database calls of the
#: process (connects, replays) wait behind one trip.
BATCH_SIZE = 250
#: The sweep wakes this many times per period, so that sockets opened together spread out.
TICKS_PER_PERIOD = 10


def check_sockets(sockets) -> list[tuple]:
    """(user, groups) for each of `sockets` as the database has them now: user None when the
    credential no longer authenticates (4401), groups None when the user may no longer follow
    the socket's route (4403). Runs in a worker thread."""
    from project.accounts.services import authenticated_users

    users = authenticated_users(socket.credential for socket in sockets)
    # One check per user and route, asked of each consumer class for all of its sockets at once.
    undecided: dict[tuple, tuple] = {}
    for socket in sockets:
        user = users[socket.credential]
        if user is not None:
            undecided.setdefault((user.pk, socket.access_key()), (socket, user))
    by_class: dict[type, list[tuple]] = {}
    for key, (socket, user) in undecided.items():
        by_class.setdefault(type(socket), []).append((key, socket, user))
    decided: dict[tuple, list[str] | None] = {}
    for consumer_class, checks in by_class.items():
        answers = consumer_class.allowed_groups_many([(socket, user) for _, socket, user in checks])
        for (key, _, _), groups in zip(checks, answers):
            decided[key] = None if groups is None else [validate_group(group) for group in groups]
    checked = []
    for socket in sockets:
        user = users[socket.credential]
        checked.append((user, decided[(user.pk, socket.access_key())]) if user is not None else (None, None))
    return checked


class AccessSweep:
    """The periodic re-check of one event loop's sockets. Sockets of one user on one route
    (tabs of one page) share a schedule: their check is one rights check, however many they are."""

    def __init__(self):
        self.sockets: dict[tuple, set] = {}  # (user id, access key) → its sockets
        self.due: dict[tuple, float] = {}  # (user id, access key) → loop time of their next check
        self.task: asyncio.Task | None = None

    def add(self, socket) -> None:
        loop = asyncio.get_running_loop()
        key = socket.sweep_key = (socket.user.pk, socket.access_key())
        self.sockets.setdefault(key, set()).add(socket)
        self.due.setdefault(key, loop.time() + _period())
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run(), name="realtime-access-sweep")

    def discard(self, socket) -> None:
        key = getattr(socket, "sweep_key", None)
        sockets = self.sockets.get(key)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.sockets[key], self.due[key]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.due:
            await asyncio.sleep(settings.REALTIME_ACCESS_RECHECK_SECONDS / TICKS_PER_PERIOD)
            now = loop.time()
            keys, batch = [], []
            for key in [key for key, at in self.due.items() if at <= now]:
                keys.append(key)
                batch.extend(self.sockets[key])
                if len(batch) >= BATCH_SIZE:
                    await self._check(keys, batch)
                    keys, batch = [], []
            if batch:
                await self._check(keys, batch)

    async def _check(self, keys: list[tuple], sockets: list) -> None:
        try:
            checked = await database_sync_to_async(check_sockets)(sockets)
        except Exception:  # the database may be restarting: they stay due for the next tick
            logger.warning("socket access re-check failed", exc_info=True)
            return
        next_check = asyncio.get_running_loop().time() + _period()
        for key in keys:
            if key in self.due:
                self.due[key] = next_check
        for socket, (user, groups) in zip(sockets, checked):
            if socket in self.sockets.get(socket.sweep_key, ()):  # not closed while checked
                try:
                    await socket.apply_access(user, groups)
                except Exception:
                    logger.exception("socket access re-check failed")


def _period() -> float:
    """Jittered, so that sockets opened together do not stay together."""
    return settings.REALTIME_ACCESS_RECHECK_SECONDS * random.uniform(0.75, 1.25)


_sweeps: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AccessSweep]" = weakref.WeakKeyDictionary()


def watch(socket) -> None:
    """Called by each socket once it is ready."""
    loop = asyncio.get_running_loop()
    sweep = _sweeps.get(loop)
    if sweep is None:
        sweep = _sweeps[loop] = AccessSweep()
    sweep.add(socket)


def unwatch(socket) -> None:
    try:
        sweep = _sweeps.get(asyncio.get_running_loop())
    except RuntimeError:
        return
    if sweep is not None:
        sweep.discard(socket)

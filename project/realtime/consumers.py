"""The base class of every Harbor socket.

Protocol (server → client), one JSON object per frame:
- events: ``{"type", "group", "cursor", "data"}``; ``cursor`` only grows, so a client keeps the
  last one it saw and reconnects with ``?after=<cursor>`` to receive what it missed;
- ``{"type": "ready", "data": {"groups": [...], "cursor": n}}`` once subscribed (after any replay);
- ``{"type": "replay.truncated", "data": {"cursor": n}}`` when more was missed than
  REALTIME_REPLAY_LIMIT: refetch over REST, then go on from ``cursor``;
- ``{"type": "error", "data": {"code", "message"}}`` for a bad inbound frame (the socket stays open);
- ``{"type": "pong"}`` in answer to ``{"type": "ping"}`` (send one every 30 s: it also keeps
  presence fresh);
- transient frames without a cursor, never stored nor replayed: ``{"type": "typing", "group",
  "data": {"user"}}`` and ``{"type": "presence", "group", "data": {"users": [...]}}``.

Close codes: 4401 not authenticated, or no longer (logged out, password changed, token revoked,
user deactivated); 4403 not allowed, or no longer (removed from the tenant or the workflow);
4400 bad connection parameters; 4404 no such socket route; 4503 the channel layer restarted
(reconnect: project/realtime/layer_watch.py). Clients should not reconnect after 4401, 4403 or 4404.

Rights end while a socket is open: every socket joins the groups of its credential (its user's
`access.<id>`, its session's or its token's) and checks its credential and its right to its
groups again whenever an `access.changed` event reaches one of them, and every
REALTIME_ACCESS_RECHECK_SECONDS besides (a channel layer may drop a message; a token or a
session may simply expire), in batches per process (project/realtime/access_sweep.py).
Services publish `access.changed` whenever a right ends.

Sockets have no channel of their own: the server process has one (project/realtime/fanout.py)
that is a member of every group its sockets follow, and hands each event to each of its local
sockets (`deliver`), so an event costs one channel-layer message per process, not per socket.
"""

import asyncio
import json
import logging
from collections import OrderedDict, deque
from urllib.parse import parse_qs, unquote

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404

from . import access_sweep, dispatcher, fanout, layer_watch, presence
from .models import Event
from .services import (
    ACCESS_CHANGED, LAYER_MESSAGE_TYPE, layer_frames, layer_is_cross_process, layer_message, validate_group,
)

logger = logging.getLogger(__name__)

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
_REMEMBERED_CURSORS = 4096
JOIN_TIMEOUT_SECONDS = 5


def query_param(scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get(name)
    return values[-1] if values else None


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    """Authenticate, authorise, join groups, replay from ``?after=``, then forward events.

    Subclasses implement ``allowed_groups(user)`` (raise PermissionDenied or Http404 to refuse)
    and may override ``handle_event`` and ``handle_message``. A subclass whose
    ``presence_group`` is a group shares who is connected with that group."""

    presence_group: str | None = None
    #: No channel per socket (Channels would make one and read it for each consumer): the
    #: process's fan-out delivers to the socket. `connect` sets `channel_layer` and names the
    #: socket (`channel_name`, used by presence and typing's exclude-self).
    channel_layer_alias = None

    def allowed_groups(self, user) -> list[str]:
        """The groups `user` may follow on this route, read from the database in a worker
        thread; raise PermissionDenied or Http404 to refuse. Called at connect and at every
        re-check, often for many sockets in one trip (project/realtime/access_sweep.py), so it
        decides and keeps nothing: its answer may only depend on `user` and `access_key()`."""
        raise PermissionDenied  # deny unless a subclass says otherwise

    @classmethod
    def allowed_groups_many(cls, checks: list[tuple["RealtimeConsumer", object]]) -> list[list[str] | None]:
        """`allowed_groups` of many (socket, user) pairs of this class, None where refused: a
        subclass whose check is a query answers them all with one (WorkflowConsumer)."""
        answers = []
        for socket, user in checks:
            try:
                answers.append(socket.allowed_groups(user))
            except (PermissionDenied, Http404):
                answers.append(None)
        return answers

    def access_key(self) -> tuple:
        """What `allowed_groups` depends on besides the user: a process's sockets with the
        same user and key share one check per re-check batch (ten tabs of one page, one query)."""
        return (type(self), tuple(sorted(self.scope.get("url_route", {}).get("kwargs", {}).items())))

    async def connect(self):
        self.user = self.scope.get("user")
        self.credential = self.scope.get("credential")
        self.subscribed: list[str] = []
        self.control_groups: list[str] = []
        self._recent: deque[int] = deque(maxlen=_REMEMBERED_CURSORS)
        self._recent_set: set[int] = set()
        self._holds_dispatcher = False
        self._access_task: asyncio.Task | None = None
        # Layer messages wait here until the socket is ready (after its replay) and while an
        # `access.changed` is being checked: nothing newer reaches a socket whose right ended.
        self._held: deque[dict] = deque()
        self._live = False
        self._closing = False
        self._answers_pings_early = False
        self._unanswered = 0  # inbound frames handed to ASGI whose handling has not ended
        self._wire = None
        self.channel_layer = get_channel_layer()
        self.fanout = await fanout.for_layer(self.channel_layer)
        self.channel_name = self.fanout.socket_name()
        # Accept first: a close code before the handshake reaches the client as a bare failure.
        await self.accept()
        self._wire = fanout.wire_of(self.base_send)
        if self._wire is not None:
            fanout.intercept_frames(self._wire, self._take_frame)
        if self.user is None or not self.user.is_authenticated or self.credential is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if "\x00" in unquote(self.scope.get("query_string", b"").decode("latin1")):
            # PostgreSQL refuses NUL in any string: such an id would fail a query, not match.
            await self.send_error("invalid_query", "The query string must not contain NUL characters.")
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        after = query_param(self.scope, "after")
        # isdecimal() alone admits "²" and other digits int() refuses.
        if after is not None and not (after.isascii() and after.isdecimal() and int(after) < 2**63):
            await self.send_error("invalid_cursor", "`after` must be a non-negative integer cursor.")
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        # Joined before the rights are checked: a right that ends from now on reaches this socket.
        self.control_groups = self.credential.groups
        if not await self._join(self.control_groups):
            return
        try:
            groups = [validate_group(group) for group in await database_sync_to_async(self.allowed_groups)(self.user)]
        except (PermissionDenied, Http404):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if not await self._join(groups):
            return
        self.subscribed = groups
        if layer_is_cross_process(self.channel_layer):
            layer_watch.watch(self)
        else:
            await dispatcher.acquire(self.channel_layer)
            self._holds_dispatcher = True
        cursor = await self.replay(int(after)) if after is not None else await _latest_cursor()
        await self.send_json({"type": "ready", "data": {"groups": groups, "cursor": cursor}})
        await self._go_live()
        access_sweep.watch(self)
        self._answers_pings_early = True
        if self.presence_group:
            await presence.join(self.presence_group, self.channel_name, self.user)
            await presence.announce(self.presence_group, self.channel_layer)

    async def _join(self, groups: list[str]) -> bool:
        """Join `groups`, or close with 4503 (reconnect) when the channel layer does not answer
        in JOIN_TIMEOUT_SECONDS: a connect seen hanging on a Redis that had just restarted."""
        try:
            async with asyncio.timeout(JOIN_TIMEOUT_SECONDS):
                for group in groups:
                    await self.fanout.join(group, self)
        except Exception:
            logger.warning("socket could not join its groups", exc_info=True)
            await self.close(code=layer_watch.CLOSE_LAYER_RESTARTED)
            return False
        return True

    async def _leave(self, groups: list[str]) -> None:
        for group in groups:
            await self.fanout.leave(group, self)

    async def disconnect(self, code):
        if getattr(self, "_access_task", None) is not None:
            self._access_task.cancel()
        access_sweep.unwatch(self)
        layer_watch.unwatch(self)
        if getattr(self, "fanout", None) is not None:
            await self._leave([*self.subscribed, *self.control_groups])
        if getattr(self, "_holds_dispatcher", False):
            dispatcher.release()
            self._holds_dispatcher = False
        if self.presence_group and self.subscribed:
            await presence.leave(self.channel_name)
            await presence.announce(self.presence_group, self.channel_layer)

    async def check_access(self) -> bool:
        """Check the credential (4401) and the right to this socket's groups (4403) again, as
        they are now in the database; close and return False if either ended."""
        [(user, groups)] = await database_sync_to_async(access_sweep.check_sockets)([self])
        return await self.apply_access(user, groups)

    async def apply_access(self, user, groups: list[str] | None) -> bool:
        """Act on a check of this socket (`access_sweep.check_sockets`): close with 4401 when
        `user` is None, 4403 when `groups` is, and return whether the socket stays open."""
        if self._closing:
            return False
        if user is None or groups is None:
            self._closing = True
            await self.close(code=CLOSE_UNAUTHENTICATED if user is None else CLOSE_FORBIDDEN)
            return False
        self.user = user
        return await self.follow(groups)

    async def follow(self, groups: list[str]) -> bool:
        """The groups a re-check allowed; a socket whose groups change while it is open (the
        inbox's) joins and leaves them here. Returns False if the socket closed."""
        return True

    async def send_transient(self, group: str, event_type: str, data: dict, include_self: bool = True):
        """Send a frame that is neither stored nor replayed (typing, presence) to a group."""
        frame = {"type": event_type, "group": group, "data": data}
        message = presence.transient_message(frame, None if include_self else self.channel_name)
        await self.channel_layer.group_send(group, {**message, "group": group})

    async def deliver(self, message: dict) -> None:
        """Called by the process's fan-out with each channel-layer message to one of this
        socket's groups (the very same message object for every local socket)."""
        if self._live and not self._held:
            await self._dispatch_layer_message(message)
        else:
            self._held.append(message)

    async def _dispatch_layer_message(self, message: dict) -> None:
        if message["type"] == LAYER_MESSAGE_TYPE:
            await self.realtime_event(message)
        else:
            await self.realtime_transient(message)

    async def _go_live(self) -> None:
        """Deliver what waited, in order, then each message as it comes; stops again at a
        held `access.changed`, whose check then resumes it."""
        self._live = True
        while self._live and self._held:
            await self._dispatch_layer_message(self._held.popleft())

    def _hold_for_access_check(self) -> None:
        """Check rights without stopping the process's fan-out for the other sockets: hold
        this socket's messages until the check passes (they are dropped when it closes)."""
        self._live = False
        if self._access_task is None or self._access_task.done():
            self._access_task = asyncio.get_running_loop().create_task(self._check_then_resume())

    async def _check_then_resume(self) -> None:
        while not self._live:  # a held `access.changed` met while resuming holds it again
            try:
                allowed = await self.check_access()
            except Exception:
                # Unverified rights deliver nothing: the reconnect checks them again.
                logger.warning("socket access check failed", exc_info=True)
                await self.close(code=layer_watch.CLOSE_LAYER_RESTARTED)
                return
            if not allowed:
                return
            await self._go_live()

    async def realtime_transient(self, message):
        if message.get("exclude") != self.channel_name:
            if "text" in message:
                await self.send_shared_text(message["text"])
            else:  # sent by a process running the previous release
                await self.send_json(message["event"])

    async def send_shared_text(self, text: str) -> None:
        """Send a text frame that other local sockets get too (the very same string): under
        daphne its WebSocket frame is built once per process and written to this socket's
        transport (fanout.write_prepared); otherwise the ASGI way."""
        if self._wire is None or not fanout.write_prepared(self._wire, text):
            await self.send(text_data=text)

    async def replay(self, after: int) -> int:
        limit = settings.REALTIME_REPLAY_LIMIT
        frames = await _events_for(self.subscribed, after, limit + 1)
        if len(frames) > limit:
            latest = await _latest_cursor()
            await self.send_json({"type": "replay.truncated", "data": {"cursor": latest}})
            return latest
        for frame in frames:
            await self.realtime_frame(frame)
        return frames[-1]["cursor"] if frames else max(after, await _latest_cursor())

    async def realtime_event(self, message):
        """Channel-layer handler for ``realtime.event`` (one frame or several of a group)."""
        frames, was_live = layer_frames(message), self._live
        for index, frame in enumerate(frames):
            if was_live and not self._live:  # an access.changed among them: the rest waits for its check
                self._held.appendleft(layer_message(frames[index:]))
                return
            await self.realtime_frame(frame)

    async def realtime_frame(self, frame: dict) -> None:
        """One event frame; each cursor reaches the client once."""
        cursor = frame["cursor"]
        if cursor in self._recent_set:
            return
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(cursor)
        self._recent_set.add(cursor)
        if frame["type"] == ACCESS_CHANGED:
            if self._live:
                self._hold_for_access_check()
            else:  # replayed during connect, which waits for it
                await self.check_access()
            return
        await self.handle_event(frame)

    async def handle_event(self, frame: dict) -> None:
        await self.send_shared_text(encoded_frame(frame))

    def _take_frame(self, payload: bytes, is_binary: bool) -> bool:
        """Daphne's protocol hands each inbound frame here first (fanout.intercept_frames). Once
        the socket is ready, a ping is answered at once, before ASGI, when every frame sent
        before it has been handled (a pong never overtakes their answers): through daphne's
        queue, Channels' dispatch (a database-thread trip per frame to close old connections)
        and the ASGI send, a ping cost ~1.1 ms of the machine, against ~0.27 ms in a plain
        `websockets` server (docs/performance.md, idle sockets). Anything else goes the ASGI
        way, counted until its handling ends."""
        if (
            self._answers_pings_early and not self._unanswered and not is_binary
            and payload in PING_PAYLOADS and fanout.write_prepared(self._wire, PONG)
        ):
            self._pinged()
            return True
        self._unanswered += 1
        return False

    async def websocket_receive(self, message):
        try:
            await super().websocket_receive(message)
        finally:
            # Counted by _take_frame (floored: a frame that came before its hook was not).
            self._unanswered = max(0, self._unanswered - 1)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # An exception in a handler would close the socket: answer with an error frame instead.
        try:
            content = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):  # RecursionError: arrays nested 100,000 deep
            await self.send_error("invalid_json", "Frames must be JSON objects.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("invalid_frame", 'Frames must be JSON objects with a "type".')
            return
        if content["type"] == "ping":  # under daphne, mostly answered before ASGI (_take_frame)
            await self.send_shared_text(PONG)
            self._pinged()
            return
        try:
            await self.handle_message(content)
        except (PermissionDenied, Http404):
            await self.close(code=CLOSE_FORBIDDEN)
        except Exception:
            logger.exception("socket message failed", extra={"frame_type": content["type"]})
            await self.send_error("server_error", "The message could not be handled.")

    def _pinged(self) -> None:
        if self.presence_group:
            presence.touch(self.channel_name)

    async def handle_message(self, content: dict) -> None:
        await self.send_error("unsupported", f"Unsupported message type {content['type']!r}.")

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "data": {"code": code, "message": message}})


#: One string for every pong of the process, so its WebSocket frame is built once too.
PONG = json.dumps({"type": "pong"})
#: The pages' ping as browsers (`JSON.stringify`) and Python's `json.dumps` write it.
PING_PAYLOADS = frozenset({b'{"type":"ping"}', b'{"type": "ping"}'})
_encoded: "OrderedDict[int, tuple[dict, str]]" = OrderedDict()


def encoded_frame(frame: dict) -> str:
    """The JSON text of an event frame, encoded once per process rather than once per socket.
    A group's members receive the very same message object (one copy per process in both
    layers), so the cache is keyed by the frame's identity and holds the frame to keep it so."""
    cached = _encoded.get(id(frame))
    if cached is not None and cached[0] is frame:
        return cached[1]
    text = json.dumps(frame)
    _encoded[id(frame)] = (frame, text)
    if len(_encoded) > 256:
        _encoded.popitem(last=False)
    return text


@database_sync_to_async
def _events_for(groups: list[str], after: int, limit: int) -> list[dict]:
    events = Event.objects.filter(group__in=groups, id__gt=after).order_by("id")[:limit]
    return [event.as_frame() for event in events]


@database_sync_to_async
def _latest_cursor() -> int:
    return dispatcher._latest_event_id()


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Every path no route matches: a 4404 close and a warning, rather than a handshake that
    fails with an error in the server log."""

    async def connect(self):
        logger.warning("websocket route not found: %r", self.scope.get("path"))
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)

"""Per-process fan-out: an event reaches each server process once, then every local socket.

Channels gives each consumer a channel of its own and a group message costs one channel-layer
message per member socket: 1,000 sockets on one workflow meant 1,000 Redis messages, 1,000
deserialisations and 1,000 consumer dispatches per event (docs/performance.md, fan-out). Here
each server process (each event loop) has one **process channel** instead:

- the process keeps its own map group → local sockets;
- the process channel joins a group in the channel layer when the first local socket joins it,
  and leaves it when the last one leaves, so the layer carries one message per process per
  event, whichever layer it is (Redis for scale-out, the in-memory one embedded, where the
  dispatcher feeds the same groups from the event log);
- one task receives the process channel and hands each message to every local socket of its
  group: the frame is JSON-encoded once (`consumers.encoded_frame`) and each socket writes it,
  with its own cursor dedupe, its own filter (inbox, notifications) and its own access checks
  (`RealtimeConsumer.deliver`).

Channel layers forget nothing on their own but Redis forgets everything when it restarts:
`layer_watch` calls `rejoin()` before it closes the process's sockets with 4503, so sockets that
reconnect at once are heard again. Memberships are also renewed every `REFRESH_SECONDS`: both
layers expire a member after `group_expiry` (a day), and a process channel may hold a busy group
for longer than any one socket.
"""

import asyncio
import functools
import json
import logging
import time
import weakref
from collections import OrderedDict

from twisted.internet import tcp

from .services import LAYER_MESSAGE_TYPE, layer_frames

logger = logging.getLogger(__name__)

#: Memberships are renewed this often (the layers' `group_expiry` is 86,400 s).
REFRESH_SECONDS = 3600.0
#: After a failed receive (Redis restarting) the process channel is read again after this.
RECEIVE_RETRY_SECONDS = 0.5
TRANSIENT_MESSAGE_TYPE = "realtime.transient"


class ProcessFanout:
    """The fan-out of one server process (one event loop and one channel layer)."""

    def __init__(self, layer, channel: str):
        self.layer = layer
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        self.groups: dict[str, set] = {}  # group → local sockets
        self.joined: set[str] = set()  # groups the process channel is a member of in the layer
        self._locks: dict[str, asyncio.Lock] = {}
        self._sockets = 0
        self._receiver: asyncio.Task | None = None
        self._refresher: asyncio.Task | None = None
        #: Counters: channel-layer messages received, and socket deliveries they became.
        self.messages_received = 0
        self.deliveries = 0

    def socket_name(self) -> str:
        """A name for a socket that is unique across processes (presence rows, typing's
        exclude-self): the process channel plus a counter."""
        self._sockets += 1
        return f"{self.channel}#{self._sockets}"

    # --- membership ------------------------------------------------------------------------

    def _lock(self, group: str) -> asyncio.Lock:
        lock = self._locks.get(group)
        if lock is None:
            lock = self._locks[group] = asyncio.Lock()
        return lock

    async def join(self, group: str, socket) -> None:
        """Add a local socket to `group`; returns once the process channel is a member in the
        layer, so that an event published from now on reaches the socket. Raises if the layer
        does not answer (the socket then closes 4503)."""
        self._ensure_running()
        async with self._lock(group):
            if group not in self.joined:
                await self.layer.group_add(group, self.channel)
                self.joined.add(group)
            self.groups.setdefault(group, set()).add(socket)

    async def leave(self, group: str, socket) -> None:
        members = self.groups.get(group)
        if members is None or socket not in members:
            return
        members.discard(socket)
        if members:
            return
        lock = self._lock(group)
        async with lock:
            if self.groups.get(group):  # a socket joined again meanwhile
                return
            self.groups.pop(group, None)
            if group in self.joined:
                self.joined.discard(group)
                try:
                    await self.layer.group_discard(group, self.channel)
                except Exception:  # Redis down: its restart forgets the membership anyway
                    logger.warning("process channel could not leave %s", group, exc_info=True)
        if not lock.locked() and not self.groups.get(group):
            self._locks.pop(group, None)

    async def rejoin(self) -> None:
        """Join every group that has local sockets again: the layer forgot them (Redis
        restarted). Idempotent: a group add of a member renews it."""
        for group in list(self.groups):
            async with self._lock(group):
                if self.groups.get(group):
                    await self.layer.group_add(group, self.channel)
                    self.joined.add(group)

    # --- delivery --------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._receiver is None or self._receiver.done():
            self._receiver = self.loop.create_task(self._receive(), name="realtime-fanout")
        if self._refresher is None or self._refresher.done():
            self._refresher = self.loop.create_task(self._refresh(), name="realtime-fanout-refresh")

    async def _receive(self) -> None:
        failing = False
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer is restarting: layer_watch closes the sockets
                # Once per outage, not twice a second.
                logger.log(logging.DEBUG if failing else logging.WARNING, "process channel receive failed", exc_info=True)
                failing = True
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                continue
            failing = False
            self.messages_received += 1
            try:
                await self.fan_out(message)
            except Exception:
                logger.exception("fan-out failed", extra={"message_type": message.get("type")})

    async def fan_out(self, message: dict) -> None:
        """Hand one channel-layer message to every local socket of its group."""
        if message.get("type") == LAYER_MESSAGE_TYPE:
            group = layer_frames(message)[0]["group"]
        elif message.get("type") == TRANSIENT_MESSAGE_TYPE:
            group = message.get("group") or _transient_group(message)
        else:
            logger.warning("unknown message on the process channel: %r", message.get("type"))
            return
        members = self.groups.get(group)
        if not members:
            return
        for socket in tuple(members):
            self.deliveries += 1
            try:
                await socket.deliver(message)
            except Exception:  # one broken socket must not cost the others their frame
                logger.exception("socket delivery failed")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.rejoin()
            except Exception:
                logger.warning("process channel could not renew its groups", exc_info=True)


def _transient_group(message: dict) -> str | None:
    """Transient messages carry their frame pre-encoded; `presence.transient_message` puts
    the group in the frame's text only, so it is read back from there once per process."""
    try:
        return json.loads(message["text"]).get("group")
    except (KeyError, ValueError, AttributeError):
        return None


_fanouts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProcessFanout]" = weakref.WeakKeyDictionary()


async def for_layer(layer) -> ProcessFanout:
    """This process's fan-out on `layer` (one per event loop; a new one for a new layer)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None or fanout.layer is not layer:
        fanout = _fanouts[loop] = ProcessFanout(layer, await layer.new_channel())
    return fanout


def current() -> ProcessFanout | None:
    """The fan-out of the running loop, if a socket made one."""
    try:
        return _fanouts.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


# --- writing a frame to a local socket ---------------------------------------------------------
#
# Measured with py-spy on daphne during bench/fanout.py (500 sockets, embedded): of the time a
# socket's frame took, 17 % went to Channels' send chain and daphne's reply handling, 65 % to
# autobahn framing the same bytes again for each socket and formatting a debug log line it then
# discarded (`sendData`), and the rest to Twisted's write. A group's sockets share one frame, so
# the WebSocket frame is built once per process (autobahn's own `prepareMessage`, made for this)
# and written to each socket's transport.


def wire_of(send):
    """The autobahn protocol behind daphne's ASGI `send` (through Channels' session wrapper),
    or None under another server or the test communicator: those sockets take the ASGI path."""
    for _ in range(4):
        if isinstance(send, functools.partial) and send.args and hasattr(send.args[0], "sendPreparedMessage"):
            return send.args[0]
        send = getattr(getattr(send, "__self__", None), "real_send", None)  # channels.sessions
        if send is None:
            return None
    return None


def write_prepared(wire, text: str) -> bool:
    """Write `text` as one pre-built WebSocket frame; False when this socket cannot take it
    (not open, or compression negotiated: daphne negotiates none), so the caller sends it the
    ASGI way, in order with everything else since both paths write synchronously."""
    if wire.state != wire.STATE_OPEN or getattr(wire, "_perMessageCompress", None) is not None or wire.send_queue:
        return False
    _write_now(wire.transport, _prepared_frame(wire.factory, text))
    return True


def _write_now(transport, data: bytes) -> None:
    """Send `data` at once when nothing is waiting before it, as asyncio's transports do.

    Twisted's `write` always buffers: it registers the socket for writing and sends on the next
    turn of the loop, then unregisters it: two `epoll_ctl` calls and a dispatch through Twisted's
    logging context per frame (with the send, 42 % of daphne's CPU with 5,000 sockets pinging:
    docs/performance.md, idle sockets). Here a plain TCP or UNIX connection with an empty buffer
    is sent to directly; what the kernel does not take (a frame over Twisted's 128 KB
    `SEND_LIMIT`, a full socket buffer), a lost connection, and TLS go through `write`, which
    keeps them in order behind anything already buffered."""
    if (
        isinstance(transport, tcp.Connection) and not transport.TLS and transport.connected
        and not transport.disconnecting and not transport.dataBuffer and not transport._tempDataBuffer
    ):
        sent = transport.writeSomeData(data)
        if isinstance(sent, int):  # else the connection is lost: `write` lets Twisted see it
            data = data[sent:]
    if data:
        transport.write(data)


def intercept_frames(wire, take) -> None:
    """Hand each inbound frame of a daphne socket to `take(payload, is_binary)` first: a frame
    it takes (returns True) never reaches daphne's application queue nor the consumer (the
    consumer answers pings this way: RealtimeConsumer._take_frame)."""
    forward = wire.onMessage

    def on_message(payload, is_binary):
        if not wire.muted and take(payload, is_binary):
            wire.last_ping = time.time()  # what daphne's own onMessage records for its keepalive
            return
        forward(payload, is_binary)

    wire.onMessage = on_message


_prepared: "OrderedDict[int, tuple[str, bytes]]" = OrderedDict()


def _prepared_frame(factory, text: str) -> bytes:
    """The frame bytes of `text`, built once per process: every socket of a group is handed the
    very same string (consumers.encoded_frame, transient messages), so its identity is the key,
    and the cache holds the string to keep it so."""
    cached = _prepared.get(id(text))
    if cached is not None and cached[0] is text:
        return cached[1]
    frame = factory.prepareMessage(text.encode()).payloadHybi
    _prepared[id(text)] = (text, frame)
    if len(_prepared) > 256:
        _prepared.popitem(last=False)
    return frame

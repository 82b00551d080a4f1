"""Publishing real-time events.

`publish()` is the only way anything reaches a socket. It writes the event to the log in the
caller's transaction and hands it to the channel layer after commit:

- with Redis (scale-out), the writing process sends straight to the group, whichever process
  it is (server, worker, cron command);
- with the in-memory layer (embedded), only the server process can reach its sockets: it sends
  its own events after commit, and its dispatcher picks up what other processes wrote.

Channel layers deliver at most once, so the log is the source of truth: clients resume from
their last cursor on reconnect.
"""

import asyncio
import json
import logging
import re
import threading

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from project.sql import bulk_insert, new_row

from .events import is_registered
from .models import Event
from .versions import bump as bump_list_versions

logger = logging.getLogger(__name__)

GROUP_NAME = re.compile(r"^[A-Za-z0-9._-]{1,99}$")
#: The `type` of the channel-layer message; consumers handle it in `realtime_event`.
LAYER_MESSAGE_TYPE = "realtime.event"
#: An event that never reaches a client: each socket of the group checks its credential and
#: its right to its groups again, and closes if either ended (project.realtime.consumers).
ACCESS_CHANGED = "access.changed"


def validate_group(group: str) -> str:
    if not GROUP_NAME.match(group):
        raise ValueError(f"Invalid group name {group!r}: use 1-99 of [A-Za-z0-9._-]")
    return group


def publish(group: str, event_type: str, data: dict | None = None, *, tenant=None) -> Event:
    """Record `event_type` for `group` and deliver it to the group's sockets after commit.
    `data` is normalised to plain JSON first (datetimes become ISO strings), so a live frame is
    byte for byte the frame a replay reads back from the log.

    `tenant` (a Tenant or its id) is given for a tenant's groups only (its workflows, members,
    queue stream), never for a personal group: it is what outgoing webhooks follow."""
    return publish_many([(group, event_type, data, tenant)])[0]


def publish_many(events: list[tuple]) -> list[Event]:
    """`publish()` for several (group, type, data[, tenant]) events in one insert, e.g. one per
    recipient."""
    for event in events:
        if not is_registered(event[1]):
            raise ValueError(f"{event[1]!r} is not a registered event type (project/realtime/events.py)")
    events = [event if len(event) == 4 else (*event, None) for event in events]
    # Every event's data in one JSON round trip (one encoder, not one per event).
    plain = json.loads(json.dumps([data or {} for _, _, data, _ in events], cls=DjangoJSONEncoder))
    rows = [
        new_row(Event, group=validate_group(group), type=event_type, data=data, tenant_id=getattr(tenant, "pk", tenant))
        for (group, event_type, _, tenant), data in zip(events, plain)
    ]
    bulk_insert(rows)  # sets the ids (the cursors)
    _deliver_on_commit([row.as_frame() for row in rows])
    return rows


class _Outbox:
    """The frames of a transaction's events, handed on by one on-commit hook: first the polled
    lists' versions (project.realtime.versions), then the sockets, which may poll as soon as
    they hear of the change."""

    def __init__(self, frames: list[dict]):
        self.frames = frames
        self.sent = False

    def __call__(self):
        self.sent = True
        bump_list_versions({frame["group"] for frame in self.frames})
        deliver(self.frames)


def _deliver_on_commit(frames: list[dict]) -> None:
    """Deliver `frames` after the commit, with the frames published before them in the same
    transaction and savepoint when theirs is the last hook registered: a queue completion's
    events and its notifications' events cost one version bump and one send, not two. Only the
    last hook, so hooks still run in the order they were registered; only the same savepoints,
    so a savepoint rolled back drops its own frames and no others (Django's run_on_commit
    entries are (savepoint ids, callback, robust))."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and connection.run_on_commit:
        savepoints, hook, _ = connection.run_on_commit[-1]
        # None stands for an atomic(savepoint=False) block (notify_many's), whose failure rolls
        # the whole transaction back: it shares its fate with the block around it. Not a hook
        # already run: tests run a transaction's hooks early (django_capture_on_commit_callbacks)
        # and leave them registered.
        if isinstance(hook, _Outbox) and not hook.sent and savepoints - {None} == set(connection.savepoint_ids) - {None}:
            hook.frames.extend(frames)
            return
    transaction.on_commit(_Outbox(frames))


def layer_message(frames: list[dict]) -> dict:
    """The channel-layer message carrying `frames`, all of one group, in cursor order: a batch
    (a queue batch's 80 events to its stream) is one layer message, not one per event."""
    if len(frames) == 1:  # the shape of one frame, as a process of the previous release reads it
        return {"type": LAYER_MESSAGE_TYPE, "event": frames[0]}
    return {"type": LAYER_MESSAGE_TYPE, "events": frames}


def layer_frames(message: dict) -> list[dict]:
    """The frames of a `layer_message`."""
    return message["events"] if "events" in message else [message["event"]]


def by_group(frames: list[dict]) -> dict[str, list[dict]]:
    """`frames` per group, each group's in the order given (cursor order)."""
    groups: dict[str, list[dict]] = {}
    for frame in frames:
        groups.setdefault(frame["group"], []).append(frame)
    return groups


def layer_is_cross_process(layer=None) -> bool:
    return not isinstance(layer or get_channel_layer(), InMemoryChannelLayer)


def deliver(frames: list[dict]) -> None:
    """Send already-committed events to their groups, from synchronous code."""
    layer = get_channel_layer()
    if layer_is_cross_process(layer):
        _sender.send(layer, frames)
        return
    from .dispatcher import running_dispatcher

    dispatcher = running_dispatcher()
    if dispatcher is not None:
        dispatcher.send_soon(frames)
    # Otherwise no socket lives in this process: the server's dispatcher reads the log.


class _LayerSender:
    """Sends to a cross-process layer from synchronous code on one long-lived event loop.

    `async_to_sync` outside a running loop would make a loop per call, and with it a new Redis
    connection and "Event loop is closed" noise from channels_redis."""

    def __init__(self):
        self._loop = None
        self._lock = threading.Lock()

    def _ensure_loop(self):
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="realtime-sender", daemon=True).start()
            return self._loop

    def send_messages(self, layer, messages: list[tuple[str, dict]], timeout: float = 5.0) -> None:
        """(group, channel-layer message) pairs, sent together; failures only logged."""
        try:
            asyncio.run_coroutine_threadsafe(layer.group_send_many(messages), self._ensure_loop()).result(timeout)
        except Exception:
            logger.warning("transient delivery failed", exc_info=True)

    def send(self, layer, frames: list[dict], timeout: float = 5.0) -> None:
        # One message to a workflow of 1,000 participants also notifies 999 user groups: the
        # layer finds their members in one pipeline and sends to those that have some.
        messages = [(group, layer_message(group_frames)) for group, group_frames in by_group(frames).items()]
        future = asyncio.run_coroutine_threadsafe(layer.group_send_many(messages), self._ensure_loop())
        try:
            future.result(timeout)
        except Exception:
            # The event is in the log; clients catch up from their cursor on reconnect.
            logger.exception("realtime delivery failed", extra={"events": [f["cursor"] for f in frames]})


_sender = _LayerSender()


def transient_layer_messages(frames: list[dict]) -> list[tuple[str, dict]]:
    from .presence import transient_message

    return [(frame["group"], {**transient_message(frame), "group": frame["group"]}) for frame in frames]


def deliver_transient(frames: list[dict]) -> None:
    """Send frames that are neither stored nor replayed (`{"type", "group", "data"}`, e.g. a
    bot's partial answer) from synchronous code. Through Redis from any process; with the
    in-memory layer only the server process reaches its sockets: there a running dispatcher
    sends them, and what other processes wrote reaches it through a transient source
    (`dispatcher.register_transient_source`), which reads the state the frames carry."""
    for frame in frames:
        validate_group(frame["group"])
    layer = get_channel_layer()
    if layer_is_cross_process(layer):
        _sender.send_messages(layer, transient_layer_messages(frames))
        return
    # In-memory layer: the server's dispatcher reads the state these frames carry from the
    # database on its next poll, whichever process wrote it; sending them here too would
    # deliver each twice, the older text after the newer.

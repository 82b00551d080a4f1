"""Worker heartbeats: long-running commands say they are alive; `manage.py workers` and
/health read it back. All writes to WorkerHeartbeat happen here."""

import logging
import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.utils import timezone

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)

STOPPED = "stopped"
PRUNE_AFTER = timedelta(days=1)
PRUNE_BATCH_SIZE = 1000
STATE_MAX = WorkerHeartbeat._meta.get_field("state").max_length


class Heartbeat:
    """The heartbeat of this process under `name`. Call `beat(state)` as often as you like (every
    loop turn): it writes at most once per WORKER_HEARTBEAT_SECONDS. Call `stop()` on graceful
    exit, or use it as a context manager.

        with Heartbeat("queue-bot") as heartbeat:
            while not stopping:
                heartbeat.beat(f"answering {n} messages")
    """

    def __init__(self, name: str):
        self.name = name
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.started_at = timezone.now()
        self._last_write = None  # monotonic time of the last successful write

    def __enter__(self):
        self.beat("starting", force=True)
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def beat(self, state: str = "idle", *, force: bool = False) -> bool:
        """Record that this process is alive and what it is doing. Returns True when it wrote.
        A database error is logged, not raised: a missed beat must not stop the worker."""
        now = time.monotonic()
        if not force and self._last_write is not None and now - self._last_write < settings.WORKER_HEARTBEAT_SECONDS:
            return False
        try:
            self._write(state)
        except DatabaseError:
            logger.exception("heartbeat %s: could not write", self.name, extra={"worker": self.name})
            return False
        self._last_write = now
        return True

    def stop(self) -> None:
        """Mark this process as stopped, so it is not reported down after a graceful exit."""
        try:
            self._write(STOPPED)
        except DatabaseError:
            logger.exception("heartbeat %s: could not record the stop", self.name, extra={"worker": self.name})

    def _write(self, state: str) -> None:
        # started_at is rewritten too: a restarted process may reuse an old row's pid.
        values = {"started_at": self.started_at, "last_seen": timezone.now(), "state": state[:STATE_MAX]}
        rows = WorkerHeartbeat.objects.filter(name=self.name, host=self.host, pid=self.pid)
        if rows.update(**values):
            return
        try:
            WorkerHeartbeat.objects.create(name=self.name, host=self.host, pid=self.pid, **values)
        except IntegrityError:  # the same process beat twice at once (two threads): it exists now
            rows.update(**values)


def list_workers() -> list[dict]:
    """Every known worker as a plain dict; `up` is False once it stopped or went quiet for more
    than WORKER_STALE_SECONDS."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    return [
        {
            "name": row.name,
            "host": row.host,
            "pid": row.pid,
            "started_at": row.started_at,
            "last_seen": row.last_seen,
            "last_seen_ago_s": round((now - row.last_seen).total_seconds(), 1),
            "state": row.state,
            "up": row.state != STOPPED and row.last_seen >= stale_before,
        }
        for row in WorkerHeartbeat.objects.all()
    ]


def prune_workers() -> int:
    """Delete workers stopped or silent for more than a day, in batches; returns how many."""
    old = WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - PRUNE_AFTER)
    deleted = 0
    while ids := list(old.values_list("id", flat=True)[:PRUNE_BATCH_SIZE]):
        deleted += WorkerHeartbeat.objects.filter(id__in=ids).delete()[0]
    return deleted


def health_check() -> dict:
    """For /health: a worker that went quiet without stopping is down, which degrades Harbor
    (background work waits) but does not take it down."""
    workers = list_workers()
    down = [f"{w['name']}@{w['host']}:{w['pid']}" for w in workers if not w["up"] and w["state"] != STOPPED]
    return {
        "status": "degraded" if down else "ok",
        "up": sum(w["up"] for w in workers),
        "down": len(down),
        "stopped": sum(w["state"] == STOPPED for w in workers),
        "down_workers": down,
    }

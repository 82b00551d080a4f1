"""The loop of a long-running `manage.py <command> --loop`: SIGTERM and SIGINT stop it within
about a second, its heartbeat is written while it works and while it sleeps, and a database
outage is waited out instead of ending the process."""

import logging
import signal
import time
from collections.abc import Callable

from django.db import DatabaseError, close_old_connections

from .services import Heartbeat

logger = logging.getLogger(__name__)

#: Sleeps are cut in slices this long, so that a stop request is seen within about a second.
SLEEP_SLICE_SECONDS = 0.5


class WorkerLoop:
    """Run `turn()` until stopped, sleeping `sleep_seconds` after a turn that found no work
    (`turn` returns whether it did any). `on_work(result)` is called after a turn that worked."""

    def __init__(self, name: str, *, sleep_seconds: float):
        self.name = name
        self.sleep_seconds = sleep_seconds
        self.stopping = False

    def stop(self, *_signal_args) -> None:
        self.stopping = True

    def run(self, turn: Callable[[Heartbeat], bool]) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        with Heartbeat(self.name) as heartbeat:
            while not self.stopping:
                close_old_connections()
                worked = False
                try:
                    worked = turn(heartbeat)
                except DatabaseError:
                    # The database is down or restarting: what the worker takes lives there, so
                    # nothing can be taken or lost meanwhile. Wait a turn and try again.
                    logger.exception("%s: the database is unavailable; retrying", self.name)
                    close_old_connections()
                heartbeat.beat("idle")
                if not worked:
                    self.sleep(self.sleep_seconds, heartbeat)

    def sleep(self, seconds: float, heartbeat: Heartbeat) -> None:
        ends = time.monotonic() + seconds
        while not self.stopping and (left := ends - time.monotonic()) > 0:
            time.sleep(min(SLEEP_SLICE_SECONDS, left))
            heartbeat.beat("idle")

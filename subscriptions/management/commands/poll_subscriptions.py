import gc
import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from project.accounts.models import User
from project.workers.services import Heartbeat
from subscriptions.poller import BATCH_SIZE, Poller

logger = logging.getLogger(__name__)

#: Sleeps are cut in slices this long, so SIGTERM stops a --loop within about a second.
SLEEP_SLICE_SECONDS = 0.5


class Command(BaseCommand):
    help = ("Poll every user whose subscriptions are due (cron replacement). Once by default; "
            "--loop runs until SIGTERM.")

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=4, help="Users polled at the same time (default 4).")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                            help=f"Users claimed, polled and written together (default {BATCH_SIZE}).")
        parser.add_argument("--user", action="append", default=[], metavar="EMAIL",
                            help="Poll only this user, due or not (repeatable).")
        parser.add_argument("--dry-run", action="store_true", help="List who is due; poll nobody, write nothing.")
        parser.add_argument("--loop", action="store_true", help="Keep polling, sleeping when nobody is due.")

    def handle(self, *args, concurrency, batch_size, user, dry_run, loop, **options):
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        user_ids = None
        if user:
            found = dict(User.objects.filter(email__in=[e.lower() for e in user]).values_list("email", "pk"))
            missing = sorted({e.lower() for e in user} - set(found))
            if missing:
                raise CommandError(f"--user: no such user: {', '.join(missing)}")
            user_ids = list(found.values())

        # Everything alive now (Django, the apps, their modules) lives as long as the process: out
        # of the collector's sight, whose full passes over it were a fifth of a run's CPU
        # (bench/poller.py), the polls allocating fast enough to trigger them.
        gc.collect()
        gc.freeze()
        self.stopping = False
        poller = Poller(concurrency=concurrency, batch_size=batch_size, user_ids=user_ids,
                        should_stop=lambda: self.stopping)
        if dry_run:
            due = list(poller.due().select_related("user").order_by("next_poll_at"))
            for schedule in due:
                self.stdout.write(f"due: {schedule.user.email} (since {schedule.next_poll_at:%Y-%m-%d %H:%M:%S})")
            self.stdout.write(f"Dry run: {len(due)} users due, none polled.")
            return
        if not loop:
            self.stdout.write(poller.run_once().line())
            return

        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        with Heartbeat("poll_subscriptions") as heartbeat:
            poller.on_progress = heartbeat.beat
            while not self.stopping:
                close_old_connections()
                try:
                    summary = poller.run_once()
                except DatabaseError:
                    # The database is down or restarting: leases and schedules live there, so
                    # nothing can be claimed or lost meanwhile. Wait a pass and try again.
                    logger.exception("poll_subscriptions: the database is unavailable; retrying")
                    close_old_connections()
                else:
                    if summary.users_polled:
                        self.stdout.write(summary.line())
                heartbeat.beat("idle")
                self._sleep(settings.SUBSCRIPTIONS_LOOP_SLEEP_SECONDS, heartbeat)
        self.stdout.write("Stopped.")

    def _stop(self, signum, frame):
        self.stopping = True

    def _sleep(self, seconds: float, heartbeat) -> None:
        ends = time.monotonic() + seconds
        while not self.stopping and (left := ends - time.monotonic()) > 0:
            time.sleep(min(SLEEP_SLICE_SECONDS, left))
            heartbeat.beat("idle")

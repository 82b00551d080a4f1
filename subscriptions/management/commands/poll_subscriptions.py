import gc

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from project.accounts.models import User
from project.workers.loop import WorkerLoop
from subscriptions.poller import BATCH_SIZE, Poller


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
        worker_loop = WorkerLoop("poll_subscriptions", sleep_seconds=settings.SUBSCRIPTIONS_LOOP_SLEEP_SECONDS)
        poller = Poller(concurrency=concurrency, batch_size=batch_size, user_ids=user_ids,
                        should_stop=lambda: worker_loop.stopping)
        if dry_run:
            due = list(poller.due().select_related("user").order_by("next_poll_at"))
            for schedule in due:
                self.stdout.write(f"due: {schedule.user.email} (since {schedule.next_poll_at:%Y-%m-%d %H:%M:%S})")
            self.stdout.write(f"Dry run: {len(due)} users due, none polled.")
            return
        if not loop:
            self.stdout.write(poller.run_once().line())
            return

        def turn(heartbeat) -> bool:
            poller.on_progress = heartbeat.beat
            summary = poller.run_once()
            if summary.users_polled:
                self.stdout.write(summary.line())
            return False  # a pass polls everyone due: sleep before looking again

        worker_loop.run(turn)
        self.stdout.write("Stopped.")

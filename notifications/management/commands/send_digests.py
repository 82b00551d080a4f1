from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notifications.digests import BATCH_SIZE, DigestRun, send_due_digests
from project.workers.loop import WorkerLoop


class Command(BaseCommand):
    help = (
        "Email each person a digest of what they have not seen in the app for EMAIL_DIGEST_DELAY "
        "(at most one per EMAIL_DIGEST_PERIOD), through the outbox that send_email delivers. Once "
        "by default; --loop runs until SIGTERM. Several copies may run side by side."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep going, sleeping when nothing is due.")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"People per turn (default {BATCH_SIZE})."
        )

    def handle(self, *args, loop, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if not loop:
            total = DigestRun()
            while True:  # everyone due now, batch after batch
                run = send_due_digests(batch_size)
                total.add(run)
                if run.people < batch_size or run.failed:
                    break
            self.stdout.write(total.line())
            return

        def turn(heartbeat) -> bool:
            run = send_due_digests(batch_size)
            if run.people:
                self.stdout.write(run.line())
                heartbeat.beat(f"sent {run.digests} digests")
            # A full batch means more people may be due at once.
            return run.people >= batch_size and not run.failed

        WorkerLoop("send_digests", sleep_seconds=settings.EMAIL_DIGEST_LOOP_SLEEP_SECONDS).run(turn)
        self.stdout.write("Stopped.")

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from project.mail.delivery import DeliveryRun, deliver_due
from project.workers.loop import WorkerLoop


class Command(BaseCommand):
    help = (
        "Deliver the outbox's due emails through EMAIL_URL (cron replacement). Once by default; "
        "--loop runs until SIGTERM. Several copies may run side by side."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep delivering, sleeping when nothing is due.")
        parser.add_argument(
            "--batch-size", type=int, default=None, help=f"Emails per connection (default {settings.EMAIL_BATCH_SIZE})."
        )

    def handle(self, *args, loop, batch_size, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if not loop:
            total = DeliveryRun()
            while True:  # everything due now, batch after batch
                run = deliver_due(batch_size)
                total.add(run)
                if not run.sent and not run.failed or run.deferred or run.retrying:
                    break
            self.stdout.write(total.line())
            return

        def turn(heartbeat) -> bool:
            run = deliver_due(batch_size)
            if run.sent or run.failed or run.retrying:
                self.stdout.write(run.line())
                heartbeat.beat(f"sent {run.sent}")
            # Only a batch that went through asks for the next one at once.
            return bool(run.sent or run.failed) and not (run.retrying or run.deferred)

        WorkerLoop("send_email", sleep_seconds=settings.EMAIL_LOOP_SLEEP_SECONDS).run(turn)
        self.stdout.write("Stopped.")

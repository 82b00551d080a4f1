from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from project.webhooks.delivery import Deliverer, deliver_once
from project.workers.loop import WorkerLoop


class Command(BaseCommand):
    help = (
        "Send each active webhook endpoint the events after its cursor, signed (Standard Webhooks), "
        "in order, retrying with backoff. Once by default; --loop runs until SIGTERM. Several "
        "copies may run side by side (leases)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep delivering, sleeping when nothing is due.")
        parser.add_argument("--concurrency", type=int, default=None,
                            help=f"Endpoints served at once (default {settings.WEBHOOK_CONCURRENCY}).")

    def handle(self, *args, loop, concurrency, **options):
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if not loop:
            self.stdout.write(deliver_once(concurrency).line())
            return
        deliverer = Deliverer(concurrency)

        def turn(heartbeat) -> bool:
            worked = deliverer.turn()
            heartbeat.beat(f"serving {len(deliverer.running)} endpoints" if deliverer.running else "idle")
            return worked

        try:
            WorkerLoop("deliver_webhooks", sleep_seconds=settings.WEBHOOK_LOOP_SLEEP_SECONDS).run(turn)
        finally:
            deliverer.close()  # the attempts in flight finish; their endpoints are given back
        self.stdout.write(deliverer.total.line())
        self.stdout.write("Stopped.")

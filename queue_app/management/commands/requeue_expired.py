from django.core.management.base import BaseCommand, CommandError

from queue_app import services


class Command(BaseCommand):
    help = "Put queue claims whose lease expired back to pending (counting an attempt). Batched."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=services.REQUEUE_BATCH_SIZE)

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        moved = services.requeue_expired(batch_size=batch_size)
        self.stdout.write(f"requeued {moved} expired claims")

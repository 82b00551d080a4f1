from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from queue_app import services


class Command(BaseCommand):
    help = (
        "Delete old complete queue messages, keeping the newest --keep (QUEUE_RETENTION) per stream. "
        "Pending, processing and failed messages are never deleted. Batched; run it daily."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep", type=int, default=None, help="Complete messages kept per stream.")
        parser.add_argument("--batch-size", type=int, default=services.PRUNE_BATCH_SIZE)

    def handle(self, *args, keep, batch_size, **options):
        keep = settings.QUEUE_RETENTION if keep is None else keep
        if keep < 0:
            raise CommandError("--keep must be 0 or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        deleted = services.prune(retention=keep, batch_size=batch_size)
        self.stdout.write(f"pruned {deleted} complete messages, kept up to {keep} per stream")

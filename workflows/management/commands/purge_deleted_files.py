from django.core.management.base import BaseCommand, CommandError

from workflows import services


class Command(BaseCommand):
    help = (
        "Remove from storage the files shared in deleted workflows, in batches. Deleting a "
        "workflow removes its first batch at once; this removes the rest, and the files of "
        "workflows deleted before Harbor did that. Safe to run any time, and again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=services.PURGE_BATCH_SIZE)

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        purged = services.purge_deleted_files(batch_size=batch_size)
        self.stdout.write(f"removed {purged} files of deleted workflows from storage")

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from project.batches import delete_in_batches
from project.durations import parse_duration
from project.realtime.models import Event


class Command(BaseCommand):
    help = "Delete real-time events older than a given age, in batches (bounds the event log)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default="7d", help="Age such as 7d, 12h, 30m (default 7d).")
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args, older_than, dry_run, **options):
        try:
            age = parse_duration(older_than)
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from None
        stale = Event.objects.filter(created_at__lt=timezone.now() - age)
        if dry_run:
            self.stdout.write(f"Would delete {stale.count()} events older than {older_than}.")
            return
        deleted = delete_in_batches(stale)
        self.stdout.write(f"Deleted {deleted} events older than {older_than}.")

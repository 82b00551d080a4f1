from django.core.management.base import BaseCommand, CommandError

from notifications import services
from project.durations import parse_duration


class Command(BaseCommand):
    help = "Delete notifications older than a given age, read ones first, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default="90d", help="Age such as 90d, 12w, 36h (default 90d).")
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args, older_than, dry_run, **options):
        try:
            age = parse_duration(older_than)
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from None
        removed = services.prune(age, dry_run=dry_run)
        verb = "Would remove" if dry_run else "Removed"
        total = removed["read"] + removed["unread"]
        self.stdout.write(
            f"{verb} {total} notifications older than {older_than} ({removed['read']} read, {removed['unread']} unread)."
        )

from django.utils import timezone

from project.batches import delete_in_batches
from project.commands import PruneCommand
from project.realtime.models import Event


class Command(PruneCommand):
    help = "Delete real-time events older than a given age, in batches (bounds the event log)."
    default_age = "7d"

    def prune(self, age, dry_run, label):
        stale = Event.objects.filter(created_at__lt=timezone.now() - age)
        if dry_run:
            return f"Would delete {stale.count()} events older than {label}."
        return f"Deleted {delete_in_batches(stale)} events older than {label}."

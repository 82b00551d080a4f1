from django.utils import timezone

from project.batches import delete_in_batches
from project.commands import PruneCommand
from project.webhooks.models import Delivery


class Command(PruneCommand):
    help = "Delete webhook delivery log rows older than a given age, in batches (manual ones still waiting stay)."
    default_age = "30d"

    def prune(self, age, dry_run, label):
        stale = Delivery.objects.filter(created_at__lt=timezone.now() - age).exclude(status=Delivery.Status.PENDING)
        if dry_run:
            return f"Would delete {stale.count()} webhook deliveries older than {label}."
        return f"Deleted {delete_in_batches(stale, batch_size=1000)} webhook deliveries older than {label}."

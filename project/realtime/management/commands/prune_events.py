from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from project.batches import delete_in_batches
from project.commands import PruneCommand
from project.realtime.models import Event


class Command(PruneCommand):
    help = (
        "Delete real-time events older than a given age, in batches (bounds the event log). Events an "
        "active webhook endpoint has not delivered yet are kept."
    )
    default_age = "7d"

    def prune(self, age, dry_run, label):
        from project.webhooks.models import Endpoint

        stale = Event.objects.filter(created_at__lt=timezone.now() - age)
        # What an active endpoint has not sent yet stays, however old: the endpoint is behind,
        # not gone (it is disabled after WEBHOOK_GIVE_UP_SECONDS, and then no longer holds the log).
        behind = (Endpoint.objects.filter(status=Endpoint.Status.ACTIVE).values("tenant_id")
                  .annotate(cursor=Min("cursor")).values_list("tenant_id", "cursor"))
        kept = Q()
        for tenant_id, cursor in behind:
            kept |= Q(tenant_id=tenant_id, id__gt=cursor)
        if kept:
            stale = stale.exclude(kept)
        if dry_run:
            return f"Would delete {stale.count()} events older than {label}."
        # A paused or disabled endpoint whose next events go now resumes with a replay.truncated
        # marker instead of silently skipping them.
        Endpoint.objects.exclude(status=Endpoint.Status.ACTIVE).filter(
            Exists(stale.filter(tenant_id=OuterRef("tenant_id"), id__gt=OuterRef("cursor")))).update(events_pruned=True)
        return f"Deleted {delete_in_batches(stale)} events older than {label}."

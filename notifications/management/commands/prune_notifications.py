from notifications import services
from project.commands import PruneCommand


class Command(PruneCommand):
    help = "Delete notifications older than a given age, read ones first, in batches."
    default_age = "90d"

    def prune(self, age, dry_run, label):
        removed = services.prune(age, dry_run=dry_run)
        verb = "Would remove" if dry_run else "Removed"
        total = removed["read"] + removed["unread"]
        return f"{verb} {total} notifications older than {label} ({removed['read']} read, {removed['unread']} unread)."

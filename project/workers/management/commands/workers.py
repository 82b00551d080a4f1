import json

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder

from project.workers.services import list_workers, prune_workers

COLUMNS = ["NAME", "HOST", "PID", "STARTED", "LAST SEEN", "STATE", "UP/DOWN"]


class Command(BaseCommand):
    help = "List long-running workers and whether each is up (recent heartbeat) or down."

    def add_arguments(self, parser):
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print JSON instead of a table.")
        parser.add_argument("--prune", action="store_true", help="First delete workers stopped or silent for over a day.")

    def handle(self, *args, as_json: bool, prune: bool, **options):
        if prune:
            deleted = prune_workers()
            if not as_json:
                self.stdout.write(f"Pruned {deleted} workers silent for more than a day.")
        workers = list_workers()
        if as_json:
            self.stdout.write(json.dumps(workers, cls=DjangoJSONEncoder, indent=2))
            return
        if not workers:
            self.stdout.write("No workers have reported a heartbeat.")
            return
        rows = [
            [
                w["name"],
                w["host"],
                str(w["pid"]),
                w["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
                f"{w['last_seen_ago_s']:.0f}s ago",
                w["state"],
                "UP" if w["up"] else "DOWN",
            ]
            for w in workers
        ]
        widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


import json
import sys

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder

from project.health.registry import run_checks


def detail_rows(result: dict, prefix: str = "") -> list[tuple[str, object]]:
    """A check's details as (key, value) pairs for a terminal; nested dicts become dotted keys."""
    rows = []
    for key, value in result.items():
        if key == "status" and not prefix:
            continue
        if isinstance(value, dict) and value:
            rows.extend(detail_rows(value, f"{prefix}{key}."))
        elif isinstance(value, list | tuple):
            rows.append((f"{prefix}{key}", ", ".join(map(str, value)) or "—"))
        else:
            rows.append((f"{prefix}{key}", "—" if value in (None, "") else value))
    return rows


class Command(BaseCommand):
    help = "Run the /health checks and print them; exit code 1 when Harbor is down (for cron and monitors)."

    def add_arguments(self, parser):
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the full JSON report.")

    def handle(self, *args, as_json: bool, **options):
        report = run_checks()
        if as_json:
            self.stdout.write(json.dumps(report, cls=DjangoJSONEncoder, indent=2))
        else:
            rows = [
                [name, result["status"], " ".join(f"{key}={value}" for key, value in detail_rows(result))]
                for name, result in report["checks"].items()
            ]
            header = ["CHECK", "STATUS", "DETAILS"]
            widths = [max(len(row[i]) for row in [header, *rows]) for i in range(2)]
            for row in [header, *rows]:
                self.stdout.write(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}".rstrip())
            self.stdout.write(f"\nstatus: {report['status']} · version {report['version']} · up {report['uptime_s']} s")
        if report["status"] == "down":
            self.stdout.flush()
            sys.exit(1)

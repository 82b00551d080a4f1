from django.core.management.base import BaseCommand, CommandError

from subscriptions import services


class Command(BaseCommand):
    help = "Refresh the OAuth tokens of active accounts that expire soon (one account at a time, row-locked)."

    def add_arguments(self, parser):
        parser.add_argument("--within", type=int, default=None, metavar="SECONDS",
                            help="Refresh tokens expiring within this many seconds "
                                 "(default SUBSCRIPTIONS_REFRESH_MARGIN_SECONDS).")
        parser.add_argument("--limit", type=int, default=1000, help="Most accounts per run (default 1000).")

    def handle(self, *args, within, limit, **options):
        if (within is not None and within < 0) or limit < 1:
            raise CommandError("--within must be >= 0 and --limit >= 1.")
        counts = services.refresh_expiring_tokens(within_seconds=within, limit=limit)
        self.stdout.write(f"Refreshed {counts['refreshed']} tokens, {counts['needs_reauth']} accounts need "
                          f"re-authorisation, {counts['failed']} failed.")
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} refreshes failed; see the log.")

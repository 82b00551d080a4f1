from abc import ABCMeta, abstractmethod

from django.core.management.base import BaseCommand, CommandError

from project.durations import parse_duration


class PruneCommand(BaseCommand, metaclass=ABCMeta):
    """A command that deletes rows older than `--older-than`, or counts them with `--dry-run`.
    Subclasses set `default_age` and implement `prune(age, dry_run)`, returning the line to print."""

    default_age = "7d"

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", default=self.default_age, help=f"Age such as 90d, 12h, 30m (default {self.default_age})."
        )
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args, older_than, dry_run, **options):
        try:
            age = parse_duration(older_than)
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from None
        self.stdout.write(self.prune(age, dry_run, label=older_than))

    @abstractmethod
    def prune(self, age, dry_run: bool, label: str) -> str:
        """Delete (or with `dry_run` count) what is older than `age`; return the summary line."""

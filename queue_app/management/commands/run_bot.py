import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from project.workers.services import Heartbeat
from queue_app.bot import BotEngine, HttpBackend, LocalBackend
from queue_app.providers import PROVIDERS
from queue_app.models import BOT_HEARTBEAT, ENTITY


class Command(BaseCommand):
    help = (
        "Answer queue messages with a language-model provider: claim, ask, reply, complete. "
        "In this process on the database by default, or against a remote Harbor with --api-url "
        "and --token. SIGTERM stops it gracefully (an answer being written is finished, an "
        "unstarted claim is released)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--provider", default=None, help=f"One of {', '.join(sorted(PROVIDERS))} "
                            "(default QUEUE_PROVIDER).")
        parser.add_argument("--entity", action="append", default=[], dest="entities",
                            help="Only answer this entity's messages (repeatable). Default: any message.")
        parser.add_argument("--concurrency", type=int, default=1, help="Claims in flight at once.")
        parser.add_argument("--once", action="store_true", help="Answer what is claimable now, then exit.")
        parser.add_argument("--lease-seconds", type=float, default=None,
                            help="Default: QUEUE_PROVIDER_DEADLINE_MINUTES plus 30 s (at least QUEUE_LEASE_SECONDS, "
                                 "at most QUEUE_MAX_LEASE_SECONDS), so a slow answer is not claimed twice; with "
                                 "--api-url, within the remote Harbor's QUEUE_MAX_LEASE_SECONDS.")
        parser.add_argument("--idle-seconds", type=float, default=1.0, help="Wait when nothing is claimable.")
        parser.add_argument("--api-url", default="", help="A remote Harbor, e.g. https://harbor.example.com")
        parser.add_argument("--token", default="", help="A bot user's API token (with --api-url).")
        parser.add_argument("--name", default=BOT_HEARTBEAT,
                            help=f"The heartbeat name in `manage.py workers`; starts with {BOT_HEARTBEAT!r} "
                                 "(the queue page counts those as bots online).")

    def handle(self, *args, provider, entities, concurrency, once, lease_seconds, idle_seconds, api_url, token,
               name, **options):
        provider = provider or settings.QUEUE_PROVIDER
        if provider not in PROVIDERS:
            raise CommandError(f"--provider must be one of {', '.join(sorted(PROVIDERS))}.")
        bad = [entity for entity in entities if not ENTITY.match(entity)]
        if bad:
            raise CommandError(f"--entity {bad[0]!r}: lower-case letters, digits, - and _, up to 64.")
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if idle_seconds <= 0:
            raise CommandError("--idle-seconds must be more than 0.")
        if lease_seconds is not None and not 0 < lease_seconds <= settings.QUEUE_MAX_LEASE_SECONDS:
            raise CommandError(f"--lease-seconds must be more than 0 and at most {settings.QUEUE_MAX_LEASE_SECONDS:g}.")
        if not name.startswith(BOT_HEARTBEAT) or len(name) > 64:
            raise CommandError(f"--name must start with {BOT_HEARTBEAT!r} (e.g. {BOT_HEARTBEAT}-duke), up to 64 characters.")
        if bool(api_url) != bool(token):
            raise CommandError("--api-url and --token go together.")
        backend = HttpBackend(api_url, token) if api_url else LocalBackend()
        # The heartbeat lives in this process's database, so only when that is Harbor's own;
        # a remote bot is watched by the claims it makes (stale processing on /health).
        heartbeat = None if api_url else Heartbeat(name)
        engine = BotEngine(
            backend, provider=provider, entities=entities, concurrency=concurrency, once=once,
            lease_seconds=lease_seconds, idle_seconds=idle_seconds, heartbeat=heartbeat,
        )
        signal.signal(signal.SIGTERM, lambda *_: engine.stop())
        signal.signal(signal.SIGINT, lambda *_: engine.stop())
        if heartbeat:
            heartbeat.beat("starting", force=True)
        try:
            stats = engine.run()
        finally:
            if heartbeat:
                heartbeat.stop()
        self.stdout.write(f"queue bot: {stats.line()}")

from django.conf import settings

from project.workers.services import list_workers

from . import services

#: run_bot's heartbeat name (its --name default); a worker whose name starts with it is a bot.
BOT_HEARTBEAT_PREFIX = "queue-bot"


def bots_running() -> int:
    """Bots in this database with a fresh heartbeat. A bot on another Harbor (--api-url) beats
    nowhere here: it shows only in its claims."""
    return sum(w["up"] for w in list_workers() if w["name"].startswith(BOT_HEARTBEAT_PREFIX))


def queue_health() -> dict:
    """For /health: degraded when the oldest pending message waited longer than
    QUEUE_PENDING_AGE_WARNING_SECONDS (no bot is keeping up) or a claim outlived its lease
    (a worker died; requeue_expired or a running bot returns it). No bot running is not a fault
    by itself (nothing may be waiting); `bots_running` lets the status page say so."""
    stats = services.stats()
    late = stats["oldest_pending_age_s"] > settings.QUEUE_PENDING_AGE_WARNING_SECONDS
    status = "degraded" if late or stats["stale_processing"] else "ok"
    return {"status": status, **stats, "bots_running": bots_running()}

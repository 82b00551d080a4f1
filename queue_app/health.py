from django.conf import settings

from . import services


def queue_health() -> dict:
    """For /health: degraded when the oldest pending message waited longer than
    QUEUE_PENDING_AGE_WARNING_SECONDS (no bot is keeping up) or a claim outlived its lease
    (a worker died; requeue_expired or a running bot returns it). No bot running is not a fault
    by itself (nothing may be waiting); `bots_running` lets the status page say so."""
    stats = services.stats()
    late = stats["oldest_pending_age_s"] > settings.QUEUE_PENDING_AGE_WARNING_SECONDS
    status = "degraded" if late or stats["stale_processing"] else "ok"
    return {"status": status, **stats, "bots_running": services.bot_presence()["bots"]}

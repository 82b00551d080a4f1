import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

STARTED_AT = time.monotonic()


def check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means down; the class name tells operators which
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


@never_cache
@require_GET
def health(request):
    """200 when every required dependency answers, 503 otherwise."""
    checks = {"database": check_database()}
    healthy = all(check["status"] == "ok" for check in checks.values())
    body = {
        "status": "ok" if healthy else "down",
        "checks": checks,
        "version": settings.HARBOR_VERSION,
        "uptime_s": round(time.monotonic() - STARTED_AT),
    }
    return JsonResponse(body, status=200 if healthy else 503)

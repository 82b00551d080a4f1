"""The checks /health runs. Apps add theirs in AppConfig.ready(), so /health never imports
app internals:

    from project.health.registry import register_check
    register_check("queue", queue_health, required=False)

A check is a function of no arguments returning a dict with "status" ("ok", "degraded" or
"down") and any details (counts, ages, latencies) only staff and token holders see. It runs in
its own thread under a timeout; raising or overrunning makes it "down".
"""

import concurrent.futures
import threading
import time
from dataclasses import dataclass
from typing import Callable

from django.conf import settings
from django.db import connections

STARTED_AT = time.monotonic()
STATUSES = ("ok", "degraded", "down")


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[[], dict]
    #: A required check that is down makes Harbor down (503); any other problem only degrades it.
    required: bool


_checks: dict[str, Check] = {}


def register_check(name: str, fn: Callable[[], dict], required: bool = True) -> None:
    """Add (or replace) the check called `name`."""
    _checks[name] = Check(name, fn, required)


def unregister_check(name: str) -> None:
    _checks.pop(name, None)


def registered_checks() -> list[Check]:
    return list(_checks.values())


def _run(check: Check, future: concurrent.futures.Future) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = check.fn()
        if result.get("status") not in STATUSES:
            raise ValueError(f"check {check.name} returned status {result.get('status')!r}")
        future.set_result(result)
    except BaseException as exc:  # reported as down with the class name; never kills the thread pool
        future.set_exception(exc)
    finally:
        # Each check thread opens its own database connections; give them back (to psycopg's
        # pool on PostgreSQL) instead of leaking one per /health call.
        connections.close_all()


def run_checks(timeout: float | None = None) -> dict:
    """Run every check concurrently; return the full report (details included)."""
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS if timeout is None else timeout
    checks = registered_checks()
    futures = {}
    for check in checks:
        future = concurrent.futures.Future()
        # Daemon threads rather than a ThreadPoolExecutor: the executor's threads are joined at
        # interpreter exit, so a check stuck on a dead Redis would keep `manage.py health` alive.
        threading.Thread(target=_run, args=(check, future), name=f"health-{check.name}", daemon=True).start()
        futures[check.name] = future
    concurrent.futures.wait(futures.values(), timeout=timeout)

    results = {}
    for check in checks:
        future = futures[check.name]
        if not future.done():
            results[check.name] = {"status": "down", "error": "TimeoutError", "timeout_s": timeout}
        elif future.exception() is not None:
            results[check.name] = {"status": "down", "error": type(future.exception()).__name__}
        else:
            results[check.name] = future.result()

    if any(check.required and results[check.name]["status"] == "down" for check in checks):
        status = "down"
    elif any(result["status"] != "ok" for result in results.values()):
        status = "degraded"
    else:
        status = "ok"
    return {
        "status": status,
        "checks": results,
        "version": settings.HARBOR_VERSION,
        "uptime_s": round(time.monotonic() - STARTED_AT),
    }


def public_report(report: dict) -> dict:
    """The report without details: what anonymous callers of /health see."""
    return {**report, "checks": {name: {"status": check["status"]} for name, check in report["checks"].items()}}

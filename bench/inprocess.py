"""CPU per request, in process: `python -m bench.inprocess` reads {"path", "headers", "requests"}
(and optionally "profile": a pstats sort key, e.g. "cumulative") as JSON on stdin, sends the request through Django's test client (the whole handler: middleware,
DRF, the view, the database driver's client side) `requests` times after a warm-up, and prints
{"cpu_ms": CPU milliseconds per request, "status": the last status} as JSON. The settings are the
environment's (DJANGO_SETTINGS_MODULE, DATABASE_URL…), as for the servers. Self-contained, so it
also measures another checkout of Harbor (`PYTHONPATH=<checkout> python bench/inprocess.py`)."""

import json
import os
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.test import Client

    job = json.loads(sys.stdin.read())
    client = Client(**{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in job["headers"].items()})
    for _ in range(max(5, job["requests"] // 10)):
        response = client.get(job["path"])
    profiler = None
    if job.get("profile"):  # the heaviest functions, to stderr
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    started = time.process_time()
    for _ in range(job["requests"]):
        response = client.get(job["path"])
    cpu = time.process_time() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(job["profile"]).print_stats(40)
    print(json.dumps({"cpu_ms": round(cpu * 1000 / job["requests"], 3), "status": response.status_code}))


if __name__ == "__main__":
    main()

"""HTTP reads: `GET /api/workflows/{id}/messages` at a fixed concurrency (16) with wrk.

Harbor runs in one daphne process, then under gunicorn's sync workers (SQLite embedded, or
PostgreSQL + Redis for cache and throttles); the request is authenticated by a bearer token and
returns a page of 50 messages. Baseline in the same run: a minimal app (bench/baselines.py)
under the same server that answers with the very bytes of Harbor's response, so the ratio is
what Harbor adds over the server and the transport. With `--profile`, py-spy samples the Harbor process under load and the
heaviest functions are printed and saved next to the results.
"""

import re
import shutil
import subprocess
from pathlib import Path

from .harness import RESULTS_DIR, Profiler, Result, benchmark, http_request, print_profile, ratio, summarise_profile

CONNECTIONS = 16
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, duration: float, token: str | None = None) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "5s"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run([*argv, url], capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict:
    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        return round(float(match.group(1)) * _UNITS[match.group(2)], 3) if match else None

    requests = re.search(r"(\d+) requests in", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)$", output, re.M)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency(50),
        "p99_ms": latency(99),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else None,
    }


def tiers(run) -> list[tuple[str, int]]:
    """One daphne process (what bin/serve runs), and gunicorn's sync workers (the scale-out HTTP
    tier of docs/deploy.md); `--server` keeps one."""
    chosen = run.options.get("server")
    if chosen == "daphne" or (chosen is None and run.processes == 1):
        return [("daphne", 1)]
    if chosen == "gunicorn":
        return [("gunicorn", run.processes or 4)]
    return [("daphne", 1), ("gunicorn", 4)]


def start(run, env, server: str, processes: int, baseline_body: Path | None = None):
    """Harbor (or, with `baseline_body`, the minimal app answering those bytes) on this tier."""
    if baseline_body is not None:
        env = {**env, "BENCH_HELLO_BODY": str(baseline_body)}
    if server == "gunicorn":
        return run.gunicorn(env, processes, application="bench.baselines:hello_wsgi" if baseline_body else None)
    application = "bench.baselines:hello" if baseline_body else "project.asgi:application"
    return run.daphne(env, processes, shared=True, application=application)[0]


@benchmark("http_reads", "GET /api/workflows/{id}/messages at 16 connections (wrk), vs a minimal app under the same server")
def http_reads(run) -> Result:
    duration = run.options.get("duration") or (3 if run.quick else 10)
    legs = tiers(run)
    parameters = {"connections": CONNECTIONS, "duration_s": duration, "tiers": [f"{s} ×{n}" for s, n in legs],
                  "page": 50, "messages": 200, "load": "wrk -t2 -c16 --latency, keep-alive"}
    database = run.database()
    rows, data, notes, ok = [], {"path": None, "legs": []}, [], True
    try:
        env = run.prepare(database)
        seeded = run.seed(env, "messages", count=200)
        path = f"/api/workflows/{seeded['workflow_id']}/messages?limit=50"
        data["path"] = path
        for server_kind, processes in legs:
            server = start(run, env, server_kind, processes)
            try:
                status, body = http_request("GET", server.url + path, token=seeded["token"])
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
                wrk(server.url + path, 1, seeded["token"])  # warm up: imports, pools, caches
                profile_path = RESULTS_DIR / f"http_reads-{run.db}-{server_kind}-profile.txt"
                with Profiler(server.pid, profile_path, enabled=run.options.get("profile")):
                    harbor = wrk(server.url + path, duration, seeded["token"])
            finally:
                server.stop()
            body_path = run.workdir / "body.json"
            body_path.write_bytes(body)
            hello = start(run, env, server_kind, processes, baseline_body=body_path)
            try:
                wrk(hello.url + path, 1)
                baseline = wrk(hello.url + path, duration)
            finally:
                hello.stop()
            tier = f"{server_kind} ×{processes}"
            rows.append({"leg": f"harbor GET messages, {tier}", "db": run.db, "response bytes": len(body),
                         "req/s": harbor["rps"], "p50 ms": harbor["p50_ms"], "p99 ms": harbor["p99_ms"],
                         "non-2xx": harbor["non_2xx"], "req/s ×base": ratio(harbor["rps"], baseline["rps"]),
                         "p50 ×base": ratio(harbor["p50_ms"], baseline["p50_ms"])})
            rows.append({"leg": f"baseline hello, same bytes, {tier}", "db": "-", "response bytes": len(body),
                         "req/s": baseline["rps"], "p50 ms": baseline["p50_ms"], "p99 ms": baseline["p99_ms"],
                         "non-2xx": baseline["non_2xx"]})
            leg = {"tier": tier, "harbor": harbor, "baseline": baseline}
            if run.options.get("profile"):
                leg["profile"] = summarise_profile(profile_path)
                notes.append(f"profile: {profile_path}")
                print_profile(leg["profile"])
            data["legs"].append(leg)
            ok = ok and harbor["non_2xx"] == 0 and not harbor["socket_errors"]
    finally:
        database.drop()
    return Result(rows=rows, parameters=parameters, data=data, ok=ok, notes=notes)

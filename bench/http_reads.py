"""HTTP reads: `GET /api/workflow/messages?workflowId=…` at a fixed concurrency (16) with wrk.

Harbor runs in one daphne process (SQLite embedded, or PostgreSQL + Redis for cache and
throttles); the request is authenticated by a bearer token and returns a page of 50 messages.
Baseline in the same run: a minimal ASGI app (bench/baselines.py) under the same daphne that
answers with the very bytes of Harbor's response, so the ratio is what Harbor adds over the
server and the transport. With `--profile`, py-spy samples the Harbor process under load and the
heaviest functions are printed and saved next to the results.
"""

import re
import shutil
import subprocess

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


@benchmark("http_reads", "GET /api/workflow/messages at 16 connections (wrk), vs a minimal ASGI app under the same daphne")
def http_reads(run) -> Result:
    duration = run.options.get("duration") or (3 if run.quick else 10)
    processes = run.processes or 1
    if processes != 1:
        raise SystemExit("http_reads measures one daphne process (wrk drives one address)")
    parameters = {"connections": CONNECTIONS, "duration_s": duration, "processes": 1, "page": 50, "messages": 200,
                  "load": "wrk -t2 -c16 --latency, keep-alive"}
    database = run.database()
    try:
        env = run.harbor_env(database)
        if database.scale_out:
            from .harness import flush_redis

            flush_redis()
        run.migrate(env)
        seeded = run.seed(env, "messages", count=200)
        path = f"/api/workflow/messages?workflowId={seeded['workflow_id']}&limit=50"
        (server,) = run.daphne(env, 1)
        try:
            status, body = http_request("GET", server.url + path, token=seeded["token"])
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
            wrk(server.url + path, 1, seeded["token"])  # warm up: imports, pools, caches
            profile_path = RESULTS_DIR / f"http_reads-{run.db}-profile.txt"
            with Profiler(server.pid, profile_path, enabled=run.options.get("profile")):
                harbor = wrk(server.url + path, duration, seeded["token"])
        finally:
            server.stop()
    finally:
        database.drop()
    body_path = run.workdir / "body.json"
    body_path.write_bytes(body)
    (hello,) = run.daphne({**env, "BENCH_HELLO_BODY": str(body_path)}, 1, application="bench.baselines:hello")
    try:
        wrk(hello.url + path, 1)
        baseline = wrk(hello.url + path, duration)
    finally:
        hello.stop()
    rows = [
        {"leg": "harbor GET messages", "db": run.db, "response bytes": len(body), "req/s": harbor["rps"],
         "p50 ms": harbor["p50_ms"], "p99 ms": harbor["p99_ms"], "non-2xx": harbor["non_2xx"],
         "req/s ×base": ratio(harbor["rps"], baseline["rps"]), "p50 ×base": ratio(harbor["p50_ms"], baseline["p50_ms"])},
        {"leg": "baseline ASGI hello, same bytes", "db": "-", "response bytes": len(body), "req/s": baseline["rps"],
         "p50 ms": baseline["p50_ms"], "p99 ms": baseline["p99_ms"], "non-2xx": baseline["non_2xx"]},
    ]
    notes = []
    data = {"harbor": harbor, "baseline": baseline, "path": path}
    if run.options.get("profile"):
        data["profile"] = summarise_profile(profile_path)
        notes.append(f"profile: {profile_path}")
        print_profile(data["profile"])
    ok = harbor["non_2xx"] == 0 and not harbor["socket_errors"]
    return Result(rows=rows, parameters=parameters, data=data, ok=ok, notes=notes)

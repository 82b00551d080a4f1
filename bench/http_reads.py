"""HTTP reads: `GET /api/workflows/{id}/messages` at a fixed concurrency (16) with wrk.

Harbor runs in one daphne process, then under gunicorn's sync workers (SQLite embedded, or
PostgreSQL + Redis for cache and throttles); the request is authenticated by a bearer token and
returns a page of 50 messages. Each tier has four rows, measured one after the other under the
same server:

- Harbor's page of 50 messages;
- Harbor's unchanged poll: the same request with `If-None-Match: <its ETag>`, a 304 that reads
  no message (docs/api.md, "Polling");
- the peer: the same list as the DRF tutorial writes it (bench/peers/drf_list: a `ListAPIView`,
  a `ModelSerializer` of the same fields, DRF's `PageNumberPagination` of 50 and its
  `TokenAuthentication`) over the same table;
- the baseline: a minimal app (bench/baselines.py) answering the very bytes of Harbor's page,
  so the ratio is what Harbor adds over the server and the transport.

Each row prints req/s ÷ the peer and ÷ hello. Then the CPU per request of Harbor's page, its
poll and the peer's page, in process (bench/inprocess.py: Django's test client, no server).
With `--profile`, py-spy samples the Harbor process under load and the heaviest functions are
printed and saved next to the results.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .harness import (
    BASE_DIR,
    RESULTS_DIR,
    Profiler,
    Result,
    benchmark,
    manage,
    print_profile,
    ratio,
    start_gunicorn,
    summarise_profile,
)

CONNECTIONS = 16
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


PEER_SETTINGS = "bench.peers.drf_list.settings"
#: Requests per in-process CPU measurement (after a tenth as many to warm up).
CPU_REQUESTS = 300


def wrk(url: str, duration: float, headers: dict | None = None) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
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
    """Harbor, the peer (with its settings in `env`), or with `baseline_body` the minimal app
    answering those bytes, on this tier."""
    if baseline_body is not None:
        env = {**env, "BENCH_HELLO_BODY": str(baseline_body)}
    if server == "gunicorn":
        return start_gunicorn(env, processes, run.workdir, "bench.baselines:hello_wsgi" if baseline_body else None)
    application = "bench.baselines:hello" if baseline_body else "project.asgi:application"
    return run.daphne(env, processes, shared=True, application=application)[0]


def peer_env(env: dict) -> dict:
    """The peer's environment: Harbor's, with the settings that add DRF's authtoken."""
    return {**env, "DJANGO_SETTINGS_MODULE": PEER_SETTINGS}


def prepare_peer(env: dict) -> str:
    """The authtoken table in the benchmark's database, and a DRF token of the reader (the user
    bench/seed.py's `messages` scenario made)."""
    manage(env, "migrate", "authtoken", "--noinput")
    code = ("from rest_framework.authtoken.models import Token; from project.accounts.models import User; "
            "print(Token.objects.get_or_create(user=User.objects.get(email='reader@bench.example'))[0].key)")
    return manage(env, "shell", "-c", code).strip().splitlines()[-1]


def http_get(url: str, headers: dict) -> tuple[int, dict, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def cpu_per_request(env: dict, path: str, headers: dict, requests: int) -> dict:
    """bench/inprocess.py in a subprocess with `env`: CPU ms per request, and the status."""
    completed = subprocess.run([sys.executable, "-m", "bench.inprocess"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                               input=json.dumps({"path": path, "headers": {"Host": "127.0.0.1", **headers}, "requests": requests}),
                               timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"bench.inprocess failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure(url: str, duration: float, headers: dict, server, profile_path: Path | None = None) -> dict:
    wrk(url, 1, headers)  # warm up: imports, pools, caches
    with Profiler(server.pid, profile_path, enabled=profile_path is not None):
        return wrk(url, duration, headers)


def row(leg: str, db: str, size: int, result: dict, peer: dict | None, hello: dict | None) -> dict:
    return {"leg": leg, "db": db, "response bytes": size, "req/s": result["rps"], "p50 ms": result["p50_ms"],
            "p99 ms": result["p99_ms"], "non-2xx": result["non_2xx"],
            "÷ DRF peer": ratio(result["rps"], peer["rps"]) if peer else None,
            "÷ hello": ratio(result["rps"], hello["rps"]) if hello else None}


@benchmark("http_reads", "GET /api/workflows/{id}/messages at 16 connections (wrk): a page, an unchanged poll, the DRF tutorial's peer, a minimal app under the same server")
def http_reads(run) -> Result:
    duration = run.options.get("duration") or (3 if run.quick else 10)
    legs = tiers(run)
    parameters = {"connections": CONNECTIONS, "duration_s": duration, "tiers": [f"{s} ×{n}" for s, n in legs],
                  "page": 50, "messages": 200, "load": "wrk -t2 -c16 --latency, keep-alive",
                  "peer": "DRF ListAPIView + ModelSerializer + PageNumberPagination(50) + TokenAuthentication"}
    database = run.database()
    rows, data, notes, ok = [], {"path": None, "legs": []}, [], True
    try:
        env = run.prepare(database)
        seeded = run.seed(env, "messages", count=200)
        peer = peer_env(env)
        peer_token = prepare_peer(peer)
        path = f"/api/workflows/{seeded['workflow_id']}/messages?limit=50"
        peer_path = f"/api/workflows/{seeded['workflow_id']}/messages"
        data["path"] = path
        bearer = {"Authorization": f"Bearer {seeded['token']}"}
        peer_auth = {"Authorization": f"Token {peer_token}"}
        for server_kind, processes in legs:
            tier = f"{server_kind} ×{processes}"
            profile = run.options.get("profile")
            server = start(run, env, server_kind, processes)
            try:
                status, headers, body = http_get(server.url + path, bearer)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
                poll_headers = {**bearer, "If-None-Match": headers["ETag"]}
                status, _, _ = http_get(server.url + path, poll_headers)
                if status != 304:
                    raise RuntimeError(f"GET {path} with If-None-Match answered {status}, not 304")
                page_profile = RESULTS_DIR / f"http_reads-{run.db}-{server_kind}-profile.txt"
                poll_profile = RESULTS_DIR / f"http_reads-{run.db}-{server_kind}-poll-profile.txt"
                harbor = measure(server.url + path, duration, bearer, server, page_profile if profile else None)
                poll = measure(server.url + path, duration, poll_headers, server, poll_profile if profile else None)
            finally:
                server.stop()
            drf = start(run, peer, server_kind, processes)
            try:
                status, _, peer_body = http_get(drf.url + peer_path, peer_auth)
                if status != 200:
                    raise RuntimeError(f"the DRF peer answered {status}: {peer_body[:500]!r}")
                drf_result = measure(drf.url + peer_path, duration, peer_auth, drf)
            finally:
                drf.stop()
            body_path = run.workdir / "body.json"
            body_path.write_bytes(body)
            hello = start(run, env, server_kind, processes, baseline_body=body_path)
            try:
                baseline = measure(hello.url + path, duration, {}, hello)
            finally:
                hello.stop()
            rows.append(row(f"harbor page of 50, {tier}", run.db, len(body), harbor, drf_result, baseline))
            rows.append(row(f"harbor unchanged poll (304), {tier}", run.db, 0, poll, drf_result, baseline))
            rows.append(row(f"DRF tutorial ListAPIView, {tier}", run.db, len(peer_body), drf_result, None, baseline))
            rows.append(row(f"baseline hello, same bytes, {tier}", "-", len(body), baseline, None, None))
            leg = {"tier": tier, "harbor": harbor, "poll": poll, "peer": drf_result, "baseline": baseline}
            if profile:
                leg["profile"] = summarise_profile(page_profile)
                leg["poll_profile"] = summarise_profile(poll_profile)
                notes += [f"profile: {page_profile}", f"profile of the poll: {poll_profile}"]
                print_profile(leg["profile"])
                print_profile(leg["poll_profile"])
            data["legs"].append(leg)
            ok = ok and all(result["non_2xx"] == 0 and not result["socket_errors"] for result in (harbor, poll, drf_result))
        requests = 50 if run.quick else CPU_REQUESTS
        cpu = {
            "harbor page": cpu_per_request(env, path, bearer, requests),
            "harbor unchanged poll": cpu_per_request(env, path, poll_headers, requests),
            "DRF peer page": cpu_per_request(peer, peer_path, peer_auth, requests),
        }
        data["cpu_ms_per_request"] = cpu
        ok = ok and [c["status"] for c in cpu.values()] == [200, 304, 200]
        for name, measured in cpu.items():
            rows.append({"leg": f"CPU in process: {name}", "db": run.db, "cpu ms/request": measured["cpu_ms"],
                         "÷ DRF peer": ratio(measured["cpu_ms"], cpu["DRF peer page"]["cpu_ms"])})
    finally:
        database.drop()
    return Result(rows=rows, parameters=parameters, data=data, ok=ok, notes=notes)

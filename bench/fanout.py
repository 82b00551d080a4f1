"""Fan-out: M WebSocket clients on one workflow, one message posted over HTTP at a time.

Reports post→receive latency over every client of every round (p50/p99/max), how many clients
got each message (must be M), how long M sockets took to connect and how many frames the
connect storm cost each socket (presence). Baseline in the same run: a plain asyncio
`websockets` server (bench/baselines.py) that broadcasts on an HTTP request, driven by the same
client code; the ratio of the two p99s is the figure to quote. Peer in the same run: a vanilla
Channels broadcast app (bench/peers/vanilla_channels: the tutorial's shape) under the same
daphne processes and the same channel layer; Harbor ÷ peer is the other figure.

SQLite runs Harbor embedded (one daphne process, in-memory channel layer); PostgreSQL runs it in
scale-out mode (Redis channel layer, `--processes` daphne processes, default 2, with the sockets
split among them round-robin and the posts going to each process in turn).
"""

import asyncio
import json
import os
import random
import secrets
import sys
import time

from .harness import (
    REDIS_URL,
    RESULTS_DIR,
    Profiler,
    Result,
    Server,
    async_http,
    benchmark,
    flush_redis,
    free_port,
    latency_summary,
    print_profile,
    ratio,
    summarise_profile,
)

#: Handshakes in flight at once: a browser crowd arrives spread out, not in one SYN flood.
CONNECT_CONCURRENCY = 50
#: A refused or timed-out handshake (daphne drops one not accepted within 5 s) is retried, as
#: browsers do; the failures are reported.
CONNECT_ATTEMPTS = 3
ROUND_TIMEOUT = 15.0


class Crowd:
    """M client sockets in this process; each records when a round's message reaches it."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.sockets = []
        self.tasks = []
        self.frames = 0
        self.presence_frames = 0
        self.closed_early = 0
        self.token = None
        self.arrivals: list[float] = []
        self.all_arrived = asyncio.Event()
        self.connect_times: list[float] = []
        self.connect_failures: list[str] = []

    async def connect(self) -> float:
        from websockets.asyncio.client import connect

        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(url):
            started = time.perf_counter()
            for attempt in range(CONNECT_ATTEMPTS):
                if attempt:  # as Harbor's browser client does: back off with jitter, then retry
                    await asyncio.sleep(random.uniform(0.5, 2.0) * attempt)
                async with semaphore:
                    try:
                        socket = await connect(
                            url, compression=None, ping_interval=None, open_timeout=60, close_timeout=1, max_size=2**22
                        )
                        while True:  # presence frames may come before our own `ready`
                            raw = await asyncio.wait_for(socket.recv(), 60)
                            self._count(raw)
                            if raw.startswith('{"type": "ready"') or raw.startswith('{"type":"ready"'):
                                break
                    except Exception as error:  # counted: a crowd that cannot connect is a result
                        self.connect_failures.append(f"{type(error).__name__}: {error}"[:200])
                        continue
                self.connect_times.append(time.perf_counter() - started)
                self.sockets.append(socket)
                self.tasks.append(asyncio.create_task(self._read(socket)))
                return

        started = time.perf_counter()
        await asyncio.gather(*(one(url) for url in self.urls))
        return time.perf_counter() - started

    def _count(self, raw: str) -> None:
        self.frames += 1
        if '"presence"' in raw[:30]:
            self.presence_frames += 1

    async def _read(self, socket):
        try:
            async for raw in socket:
                self._count(raw)
                token = self.token
                if token is not None and '"message.created"' in raw[:40] and token in raw:
                    self.arrivals.append(time.perf_counter())
                    if len(self.arrivals) == len(self.sockets):
                        self.all_arrived.set()
        except Exception:
            pass
        finally:
            self.closed_early += 1

    async def settle(self, quiet=1.0, timeout=60.0) -> float:
        """Wait until no frame has arrived for `quiet` seconds (the connect storm is over)."""
        started = time.perf_counter()
        last = -1
        while time.perf_counter() - started < timeout:
            if self.frames == last:
                return time.perf_counter() - started - quiet
            last = self.frames
            await asyncio.sleep(quiet)
        return time.perf_counter() - started

    async def round(self, post) -> tuple[list[float], float, int]:
        """Post one message; returns (latencies, the POST's own duration, status)."""
        self.token = "bench-" + secrets.token_hex(8)
        self.arrivals = []
        self.all_arrived = asyncio.Event()
        started = time.perf_counter()
        status = await post(self.token)
        posted = time.perf_counter() - started
        try:
            await asyncio.wait_for(self.all_arrived.wait(), ROUND_TIMEOUT)
        except TimeoutError:
            pass
        latencies = [arrived - started for arrived in self.arrivals]
        self.token = None
        return latencies, posted, status

    async def close(self):
        self.closed_early = 0
        semaphore = asyncio.Semaphore(200)

        async def one(socket):
            async with semaphore:
                try:
                    await socket.close()
                except Exception:
                    pass

        await asyncio.gather(*(one(socket) for socket in self.sockets))
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def measure(urls: list[str], post, rounds: int) -> dict:
    crowd = Crowd(urls)
    try:
        connect_s = await crowd.connect()
        storm_frames = crowd.frames
        settle_s = await crowd.settle()
        storm_frames_total = crowd.frames
        latencies, delivered, post_durations, statuses = [], [], [], []
        for _ in range(rounds):
            round_latencies, posted, status = await crowd.round(post)
            latencies += round_latencies
            delivered.append(len(round_latencies))
            post_durations.append(posted)
            statuses.append(status)
            await asyncio.sleep(0.3)
        return {
            "sockets": len(urls),
            "connected": len(crowd.sockets),
            "connect_failures": len(crowd.connect_failures),
            "connect_failure_examples": sorted(set(crowd.connect_failures))[:3],
            "connect_s": round(connect_s, 2),
            "connect": latency_summary(crowd.connect_times),
            "settle_s": round(settle_s, 2),
            "frames_during_connect": storm_frames,
            "frames_before_first_post": storm_frames_total,
            "presence_frames": crowd.presence_frames,
            "delivered_per_round": delivered,
            "post_statuses": statuses,
            "post": latency_summary(post_durations),
            "latency": latency_summary(latencies),
            "disconnected_during_run": crowd.closed_early,
        }
    finally:
        await crowd.close()


def harbor_leg(run, sockets: int, users: int, rounds: int, processes: int) -> dict:
    database = run.database()
    try:
        env = run.prepare(database)
        seeded = run.seed(env, "fanout", sockets=sockets, users=users)
        servers = run.daphne(env, processes)
        try:
            workflow_id = seeded["workflow_id"]
            urls = [
                f"{servers[i % len(servers)].ws_url}/ws/workflow/{workflow_id}/?ticket={ticket}"
                for i, ticket in enumerate(seeded["tickets"])
            ]
            counter = iter(range(10**9))

            async def post(token):
                server = servers[next(counter) % len(servers)]
                status, body = await async_http(
                    "POST",
                    f"{server.url}/api/workflows/{workflow_id}/messages",
                    json.dumps({"content": token}).encode(),
                    {"Authorization": f"Bearer {seeded['token']}", "Content-Type": "application/json"},
                )
                return status

            profile_path = RESULTS_DIR / f"fanout-{run.db}-profile.txt"
            with Profiler(servers[0].pid, profile_path, enabled=run.options.get("profile")):
                measured = asyncio.run(measure(urls, post, rounds))
            if run.options.get("profile"):
                measured["profile"] = summarise_profile(profile_path)
                print_profile(measured["profile"])
            return measured
        finally:
            for server in servers:
                server.stop()
    finally:
        database.drop()


def peer_env(scale_out: bool) -> dict:
    """The vanilla Channels peer's environment: its own settings, Harbor's channel layer."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="bench.peers.vanilla_channels.settings", SECRET_KEY=secrets.token_urlsafe(50),
               CHANNELS_PREFIX="vanilla-peer", PYTHONUNBUFFERED="1")
    if scale_out:
        env["REDIS_URL"] = REDIS_URL
    return env


def peer_leg(run, sockets: int, rounds: int, processes: int) -> dict:
    scale_out = run.db == "postgres"
    if scale_out:
        flush_redis()
    servers = run.daphne(peer_env(scale_out), processes, application="bench.peers.vanilla_channels.asgi:application")
    try:
        urls = [f"{servers[i % len(servers)].ws_url}/ws/" for i in range(sockets)]
        counter = iter(range(10**9))

        async def post(token):
            server = servers[next(counter) % len(servers)]
            status, _ = await async_http("GET", f"{server.url}/post?content={token}")
            return status

        return asyncio.run(measure(urls, post, rounds))
    finally:
        for server in servers:
            server.stop()


def baseline_leg(run, sockets: int, rounds: int) -> dict:
    port = free_port()
    server = Server(
        [sys.executable, "-m", "bench.baselines", "broadcast", str(port)],
        None,
        port,
        run.workdir / "baseline-broadcast.log",
    )
    try:
        server.wait_until_ready()
        urls = [f"{server.ws_url}/ws" for _ in range(sockets)]

        async def post(token):
            status, _ = await async_http("GET", f"{server.url}/post?content={token}")
            return status

        return asyncio.run(measure(urls, post, rounds))
    finally:
        server.stop()


@benchmark("fanout", "M sockets on one workflow: post→receive latency over HTTP, vs a plain websockets broadcast")
def fanout(run) -> Result:
    sockets = run.options.get("sockets") or (100 if run.quick else 1000)
    users = run.options.get("users") or sockets
    rounds = run.options.get("rounds") or (3 if run.quick else 5)
    processes = run.processes or (2 if run.db == "postgres" else 1)
    if run.db == "sqlite" and processes != 1:
        raise SystemExit("fanout on SQLite runs embedded: one daphne process (the in-memory layer is per process)")
    parameters = {"sockets": sockets, "users": users, "rounds": rounds, "processes": processes,
                  "mode": "scale-out (PostgreSQL + Redis)" if run.db == "postgres" else "embedded (SQLite + in-memory layer)"}
    harbor = harbor_leg(run, sockets, users, rounds, processes)
    peer = peer_leg(run, sockets, rounds, processes)
    baseline = baseline_leg(run, sockets, rounds)
    rows = []
    legs = (("harbor", harbor, processes), ("vanilla Channels peer", peer, processes), ("baseline websockets", baseline, 1))
    for name, leg, procs in legs:
        rows.append(
            {
                "leg": name,
                "db": run.db if name != "baseline websockets" else "-",
                "procs": procs,
                "sockets": leg["sockets"],
                "connected": leg["connected"],
                "failed handshakes": leg["connect_failures"],
                "connect s": leg["connect_s"],
                "storm frames": leg["frames_before_first_post"],
                "delivered min": min(leg["delivered_per_round"]),
                "p50 ms": leg["latency"]["p50_ms"],
                "p99 ms": leg["latency"]["p99_ms"],
                "max ms": leg["latency"]["max_ms"],
                "p99 ×base": ratio(leg["latency"]["p99_ms"], baseline["latency"]["p99_ms"]),
                "p99 ×peer": ratio(leg["latency"]["p99_ms"], peer["latency"]["p99_ms"]),
            }
        )
    ok = all(count == sockets for count in harbor["delivered_per_round"]) and all(
        status == 201 for status in harbor["post_statuses"]
    )
    notes = [] if ok else [f"delivered per round {harbor['delivered_per_round']} of {sockets}; statuses {harbor['post_statuses']}"]
    return Result(rows=rows, parameters=parameters, data={"harbor": harbor, "peer": peer, "baseline": baseline}, ok=ok, notes=notes)

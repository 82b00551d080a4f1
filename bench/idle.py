"""Idle sockets: many authenticated workflow sockets that only ping, held for a while.

5,000 sockets (250 workflows of 5 people, each person with 10 tabs), scale-out over 2 daphne processes
(Redis layer, PostgreSQL), each sending `{"type": "ping"}` every 30 s as Harbor's pages do
(static/js/live-socket.js's PING_EVERY_MS; the first ping at a random point of the first
interval, then every interval ±10 %), held 60 s once all are connected. Reports sockets closed
during the hold (must be 0), pongs received, the daphne processes' RSS after the hold minus
before the sockets connected ÷ sockets, and the CPU of all daphne processes together during the
hold (utime + stime from /proc/<pid>/stat, as a share of one core; target < 10 %). SQLite runs
the same embedded (one daphne process).

The client is several processes (`python -m bench.idle client`, about 1,250 sockets each: one
asyncio process spends seconds per thousand handshakes), each with its descriptor limit
raised. Baseline in the same run: the plain `websockets` rooms server of bench/mix.py holding
the same pinging sockets.
"""

import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from .harness import BASE_DIR, RESULTS_DIR, Result, benchmark, print_profile, ratio, summarise_profile
from .mix import profiled, start_rooms_server

#: Harbor's pages ping every 30 s (static/js/live-socket.js).
PING_SECONDS = 30.0
SOCKETS_PER_CLIENT = 1250
SOCKETS_PER_PERSON = 10
#: Handshakes in flight at once per client process (see bench/mix.py).
CONNECT_CONCURRENCY = 10
CONNECT_ATTEMPTS = 3


def raise_descriptor_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- One client process -----------------------------------------------------------------------


async def client(urls: list[str], ping_seconds: float) -> None:
    """Connect `urls`, print {"connected"}; on "hold\\n" on stdin start pinging; on "stop\\n"
    print the outcome and close. Lines on stdout are JSON."""
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sockets, failures, readers = [], [], []
    counts = {"pongs": 0, "pings": 0, "closed": 0, "frames": 0}
    closing = False
    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def read(socket):
        try:
            async for raw in socket:
                counts["frames"] += 1
                if raw.startswith('{"type": "pong"') or raw.startswith('{"type":"pong"'):
                    counts["pongs"] += 1
        except Exception:
            pass
        finally:
            if not closing:
                counts["closed"] += 1

    async def one(attempts):
        for attempt, url in enumerate(attempts[:CONNECT_ATTEMPTS]):
            if attempt:
                await asyncio.sleep(random.uniform(0.5, 2.0) * attempt)
            async with semaphore:
                try:
                    socket = await connect(url, compression=None, ping_interval=None, open_timeout=60, close_timeout=1)
                    while True:
                        raw = await asyncio.wait_for(socket.recv(), 60)
                        if raw.startswith(('{"type": "ready"', '{"type":"ready"')):
                            break
                except Exception as error:
                    failures.append(f"{type(error).__name__}: {error}"[:200])
                    continue
            sockets.append(socket)
            readers.append(asyncio.create_task(read(socket)))
            return

    started = time.perf_counter()
    await asyncio.gather(*(one(url) for url in urls))
    print(json.dumps({"connected": len(sockets), "failures": len(failures), "failure_examples": sorted(set(failures))[:3],
                      "connect_s": round(time.perf_counter() - started, 2)}), flush=True)

    async def ping(socket):
        await asyncio.sleep(random.uniform(0, ping_seconds))
        while True:
            try:
                await socket.send('{"type": "ping"}')
                counts["pings"] += 1
            except Exception:
                return
            await asyncio.sleep(ping_seconds * random.uniform(0.9, 1.1))

    await reader.readline()  # "hold"
    counts["closed"] = 0  # the hold counts from here
    pingers = [asyncio.create_task(ping(socket)) for socket in sockets]
    await reader.readline()  # "stop"
    outcome = dict(counts)
    closing = True
    for task in pingers:
        task.cancel()
    print(json.dumps(outcome), flush=True)
    limit = asyncio.Semaphore(200)

    async def close(socket):
        async with limit:
            try:
                await socket.close()
            except Exception:
                pass

    await asyncio.gather(*(close(socket) for socket in sockets))
    for task in readers:
        task.cancel()


# --- The runner -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def hold(urls: list[str], pids: list[int], hold_seconds: float, ping_seconds: float, profile_path=None) -> dict:
    """Connect `urls` from client processes, hold them pinging for `hold_seconds`, and measure
    the server processes `pids`."""
    rss_before = sum(rss_bytes(pid) for pid in pids)
    chunks = [urls[i:i + SOCKETS_PER_CLIENT] for i in range(0, len(urls), SOCKETS_PER_CLIENT)]
    clients = []
    for chunk in chunks:
        process = subprocess.Popen([sys.executable, "-m", "bench.idle", "client", str(ping_seconds)], cwd=BASE_DIR,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=raise_descriptor_limit)
        process.stdin.write(json.dumps(chunk) + "\n")
        process.stdin.flush()
        clients.append(process)
    try:
        started = time.perf_counter()
        connected = [json.loads(process.stdout.readline() or "{}") for process in clients]
        connect_s = time.perf_counter() - started
        time.sleep(3)  # the connect storm's presence frames and joins settle
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        held_from = time.perf_counter()
        for process in clients:
            process.stdin.write("hold\n")
            process.stdin.flush()
        from contextlib import nullcontext

        with profiled(pids, profile_path, True) if profile_path else nullcontext():
            time.sleep(max(0.0, hold_seconds - (time.perf_counter() - held_from)))
        cpu_after = sum(cpu_seconds(pid) for pid in pids)
        held_s = time.perf_counter() - held_from
        rss_after = sum(rss_bytes(pid) for pid in pids)
        for process in clients:
            process.stdin.write("stop\n")
            process.stdin.flush()
        outcomes = [json.loads(process.stdout.readline() or "{}") for process in clients]
        for process in clients:
            process.stdin.close()
            process.wait(60)
    finally:
        for process in clients:
            if process.poll() is None:
                process.kill()
    sockets = sum(c.get("connected", 0) for c in connected)
    return {
        "sockets": len(urls),
        "connected": sockets,
        "connect_failures": sum(c.get("failures", 0) for c in connected),
        "connect_failure_examples": [e for c in connected for e in c.get("failure_examples", [])][:3],
        "connect_s": round(connect_s, 1),
        "held_s": round(held_s, 1),
        "closed_during_hold": sum(o.get("closed", 0) for o in outcomes),
        "pings": sum(o.get("pings", 0) for o in outcomes),
        "pongs": sum(o.get("pongs", 0) for o in outcomes),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_after_mb": round(rss_after / 2**20, 1),
        "rss_per_socket_kb": round((rss_after - rss_before) / 1024 / sockets, 1) if sockets else None,
        "cpu_pct_of_one_core": round(100 * (cpu_after - cpu_before) / held_s, 1),
        "processes": len(pids),
    }


def harbor_leg(run, sockets: int, hold_seconds: float, ping_seconds: float) -> dict:
    database = run.database()
    try:
        env = run.prepare(database)
        # Ten tabs per person: 5,000 distinct users would take minutes to seed, for no
        # difference a socket sees (each socket has its own ticket, presence row and channel).
        rooms = run.seed(env, "rooms", workflows=max(1, -(-sockets // (5 * SOCKETS_PER_PERSON))), participants=5,
                         sockets_per_person=SOCKETS_PER_PERSON, tickets_per_socket=2)["rooms"]
        servers = run.daphne(env, run.processes or (2 if run.db == "postgres" else 1))
        try:
            urls = []
            for room in rooms:
                for tickets in room["tickets"]:
                    server = servers[len(urls) % len(servers)]
                    urls.append([f"{server.ws_url}/ws/workflow/{room['workflow_id']}/?ticket={ticket}" for ticket in tickets])
            profile_path = RESULTS_DIR / f"idle-{run.db}-profile.txt" if run.options.get("profile") else None
            measured = hold(urls[:sockets], [server.pid for server in servers], hold_seconds, ping_seconds, profile_path)
            if profile_path:
                measured["profile"] = summarise_profile(profile_path, top=25)
                print_profile(measured["profile"])
            return measured
        finally:
            for server in servers:
                server.stop()
    finally:
        database.drop()


def baseline_leg(run, sockets: int, hold_seconds: float, ping_seconds: float) -> dict:
    server = start_rooms_server(run.workdir)
    try:
        urls = [[f"{server.ws_url}/ws/{index // 5}"] * CONNECT_ATTEMPTS for index in range(sockets)]
        return hold(urls, [server.pid], hold_seconds, ping_seconds)
    finally:
        server.stop()


@benchmark("idle", "authenticated sockets that only ping, held: closes, RSS per socket, daphne CPU, vs a websockets server")
def idle(run) -> Result:
    sockets = run.options.get("sockets") or (500 if run.quick else 5000)
    hold_seconds = run.options.get("hold") or (10 if run.quick else 60)
    ping_seconds = PING_SECONDS if not run.quick else 5.0
    processes = run.processes or (2 if run.db == "postgres" else 1)
    parameters = {"sockets": sockets, "hold_s": hold_seconds, "ping_every_s": ping_seconds, "processes": processes,
                  "client_processes": -(-sockets // SOCKETS_PER_CLIENT),
                  "mode": "scale-out (daphne ×2, PostgreSQL + Redis)" if run.db == "postgres"
                  else "embedded (daphne ×1, SQLite + in-memory layer)"}
    harbor = harbor_leg(run, sockets, hold_seconds, ping_seconds)
    baseline = baseline_leg(run, sockets, hold_seconds, ping_seconds)
    rows = []
    for name, leg, db in (("harbor", harbor, run.db), ("baseline websockets", baseline, "-")):
        rows.append({
            "leg": name, "db": db, "procs": leg["processes"], "sockets": leg["sockets"], "connected": leg["connected"],
            "connect s": leg["connect_s"], "held s": leg["held_s"], "closed": leg["closed_during_hold"],
            "pings": leg["pings"], "pongs": leg["pongs"], "RSS/socket KB": leg["rss_per_socket_kb"],
            "CPU % of a core": leg["cpu_pct_of_one_core"],
            "CPU ×base": ratio(leg["cpu_pct_of_one_core"], baseline["cpu_pct_of_one_core"]) if leg is harbor else None,
        })
    met = harbor["closed_during_hold"] == 0 and harbor["connected"] == sockets and harbor["cpu_pct_of_one_core"] < 10
    notes = [f"target (0 closed, all connected, daphne CPU < 10 % of a core): {'met' if met else 'MISSED'}"]
    ok = harbor["connected"] == sockets and harbor["closed_during_hold"] == 0
    return Result(rows=rows, parameters=parameters, data={"harbor": harbor, "baseline": baseline}, ok=ok, notes=notes)


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        raise_descriptor_limit()
        asyncio.run(client(json.loads(sys.stdin.readline()), float(sys.argv[2])))
    else:
        sys.exit("usage: python -m bench.idle client <ping seconds>  (urls as one JSON line on stdin)")

"""Realistic mix: sockets over many small workflows, posts spread over them at a steady rate.

1,000 sockets over 200 workflows of 5 participants (one socket per person), and 100 posts/s for
20 s over HTTP, each by one of the workflow's people to a workflow picked at random. The load is
open-loop: post k is sent at its scheduled time whatever became of the earlier ones, and its
latency is measured from that time, so a saturated server shows as growing latency (and a
lower achieved rate) rather than as a politely slower client. Reports post→receive p50/p99
over every (post, recipient socket), the share delivered (every socket of the workflow,
the poster's own included), sockets closed during the run, the POSTs' own p50/p99 (from their
scheduled time) and the achieved rate (posts answered ÷ time from the first scheduled post to
the last answer).

PostgreSQL runs Harbor scale-out: gunicorn ×4 (sync workers) for HTTP and 2 daphne processes
for the sockets (split round-robin), Redis for the layer and cache. SQLite runs it embedded:
one daphne process for both. Baseline in the same run: a plain `websockets` server holding the
same rooms (`python -m bench.mix rooms <port>`: `/ws/<room>` sockets, `GET /post?room=&content=`
broadcasts a frame shaped like Harbor's to that room), the same schedule, the same client. Both
legs are warmed up first with the schedule's first tenth, unmeasured (`warm_up`).
"""

import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from .harness import RESULTS_DIR, Result, Server, async_http, benchmark, free_port, latency_summary, ratio, summarise_profile, print_profile

#: Handshakes in flight at once. A daphne process redeems tickets and checks access on its one
#: database thread, and drops a handshake it has not accepted within 5 s.
CONNECT_CONCURRENCY = 20
#: A failed handshake is retried, as browsers do, with a fresh ticket (tickets are single use).
CONNECT_ATTEMPTS = 3
#: After the last scheduled post, how long deliveries may still arrive.
DRAIN_SECONDS = 30.0
#: The warm-up sends the plan's first 1/WARM_UP_SHARE (2 s of the default 20) before measuring.
WARM_UP_SHARE = 10


# --- The client --------------------------------------------------------------------------------


class Post:
    __slots__ = ("room", "token", "scheduled", "answered", "status", "arrivals")

    def __init__(self, room: int, token: str, scheduled: float):
        self.room, self.token, self.scheduled = room, token, scheduled
        self.answered = None
        self.status = None
        self.arrivals: list[float] = []


class RoomCrowd:
    """Client sockets, each in one room; records when each post's frame reaches each of them."""

    def __init__(self, urls: list[tuple[int, str]]):
        self.urls = urls  # (room, [url for each attempt])
        self.sockets = []
        self.tasks = []
        self.per_room: dict[int, int] = {}
        self.posts: dict[str, Post] = {}
        self.closed_early = 0
        self.connect_failures: list[str] = []
        self.frames = 0
        self.closing = False

    async def connect(self) -> float:
        from websockets.asyncio.client import connect

        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(room, attempts):
            for attempt, url in enumerate(attempts[:CONNECT_ATTEMPTS]):
                if attempt:
                    await asyncio.sleep(random.uniform(0.5, 2.0) * attempt)
                async with semaphore:
                    try:
                        socket = await connect(url, compression=None, ping_interval=None, open_timeout=60,
                                               close_timeout=1, max_size=2**22)
                        while True:  # presence frames may come before `ready`
                            raw = await asyncio.wait_for(socket.recv(), 60)
                            if raw.startswith(('{"type": "ready"', '{"type":"ready"')):
                                break
                    except Exception as error:  # counted: a crowd that cannot connect is a result
                        self.connect_failures.append(f"{type(error).__name__}: {error}"[:200])
                        continue
                self.sockets.append(socket)
                self.per_room[room] = self.per_room.get(room, 0) + 1
                self.tasks.append(asyncio.create_task(self._read(socket)))
                return

        started = time.perf_counter()
        await asyncio.gather(*(one(room, url) for room, url in self.urls))
        return time.perf_counter() - started

    async def _read(self, socket):
        try:
            async for raw in socket:
                self.frames += 1
                if '"message.created"' not in raw[:40]:
                    continue
                now = time.perf_counter()
                content = json.loads(raw)["data"]["message"]["content"]
                post = self.posts.get(content)
                if post is not None:
                    post.arrivals.append(now)
        except Exception:
            pass
        finally:
            if not self.closing:
                self.closed_early += 1

    async def settle(self, quiet=1.0, timeout=60.0) -> None:
        """Until no frame has arrived for `quiet` seconds (the connect storm's presence is over)."""
        started, last = time.perf_counter(), -1
        while time.perf_counter() - started < timeout and self.frames != last:
            last = self.frames
            await asyncio.sleep(quiet)

    async def close(self):
        self.closing = True
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


def schedule(rooms: int, rate: float, duration: float, seed=17) -> list[tuple[float, int]]:
    """(offset in seconds, room) of each post: evenly spaced, rooms at random (fixed seed, so
    Harbor and the baseline get the same schedule)."""
    rng = random.Random(seed)
    return [(index / rate, rng.randrange(rooms)) for index in range(round(rate * duration))]


async def warm_up(post, plan: list[tuple[float, int]]) -> None:
    """The first tenth of `plan` sent at its pace and answered, before anything is measured: a
    server's first requests are not its steady state (a gunicorn worker's first POST imports the
    views, opens its database and Redis connections: in the first second of a cold run POSTs
    took 218 ms at the median, 15 ms from the second on). The frames they broadcast are ignored."""
    started = time.perf_counter()
    sent = []
    for index, (offset, room) in enumerate(plan[: max(1, len(plan) // WARM_UP_SHARE)]):
        delay = started + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(asyncio.create_task(post(room, index, f"warm-up-{index}")))
    await asyncio.gather(*sent, return_exceptions=True)
    await asyncio.sleep(0.5)


async def measure(urls: list[tuple[int, str]], post, plan: list[tuple[float, int]]) -> dict:
    """Connect `urls`, warm the server up, then send `plan` open-loop through
    `post(room, index, content) → status`."""
    crowd = RoomCrowd(urls)
    try:
        connect_s = await crowd.connect()
        await crowd.settle()
        await warm_up(post, plan)
        posts: list[Post] = []
        in_flight = []

        async def send(item: Post, index: int):
            try:
                item.status = await post(item.room, index, item.token)
            except Exception as error:
                item.status = type(error).__name__
            item.answered = time.perf_counter()

        started = time.perf_counter() + 0.2
        for index, (offset, room) in enumerate(plan):
            item = Post(room, f"mix-{index}-{secrets.token_hex(6)}", started + offset)
            crowd.posts[item.token] = item
            posts.append(item)
            delay = item.scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            in_flight.append(asyncio.create_task(send(item, index)))
        last_scheduled = time.perf_counter()
        await asyncio.wait(in_flight, timeout=DRAIN_SECONDS)
        # Deliveries still on their way: until every connected socket of each room has each
        # post, or the drain time is up.
        deadline = last_scheduled + DRAIN_SECONDS
        while time.perf_counter() < deadline and any(
            len(item.arrivals) < crowd.per_room.get(item.room, 0) for item in posts if item.status == 201
        ):
            await asyncio.sleep(0.2)
        expected = sum(crowd.per_room.get(item.room, 0) for item in posts)
        delivered = sum(len(item.arrivals) for item in posts)
        answered = [item for item in posts if item.answered is not None and item.status in (200, 201)]
        span = (max(item.answered for item in answered) - posts[0].scheduled) if answered else None
        statuses: dict[str, int] = {}
        for item in posts:
            statuses[str(item.status)] = statuses.get(str(item.status), 0) + 1
        return {
            "sockets": len(urls),
            "connected": len(crowd.sockets),
            "connect_failures": len(crowd.connect_failures),
            "connect_failure_examples": sorted(set(crowd.connect_failures))[:3],
            "connect_s": round(connect_s, 2),
            "posts": len(posts),
            "post_statuses": statuses,
            "expected_deliveries": expected,
            "delivered": delivered,
            "delivered_pct": round(100 * delivered / expected, 2) if expected else None,
            "latency": latency_summary([arrival - item.scheduled for item in posts for arrival in item.arrivals]),
            "post": latency_summary([item.answered - item.scheduled for item in answered]),
            "achieved_rate": round(len(answered) / span, 1) if span else None,
            "closed_during_run": crowd.closed_early,
        }
    finally:
        await crowd.close()


# --- The baseline server --------------------------------------------------------------------


async def rooms_server(port: int) -> None:
    """A plain asyncio `websockets` server: `/ws/<room>` sockets get `ready`, answer
    `{"type": "ping"}` with `pong`; `GET /post?room=&content=` broadcasts to the room."""
    from websockets.asyncio.server import broadcast, serve

    rooms: dict[str, set] = {}
    cursor = 0

    def process_request(connection, request):
        nonlocal cursor
        parts = urlsplit(request.path)
        if parts.path == "/health":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if parts.path == "/post":
            query = parse_qs(parts.query)
            room, content = query.get("room", [""])[0], query.get("content", [""])[0]
            cursor += 1
            frame = {"type": "message.created", "group": f"workflow.{room}", "cursor": cursor,
                     "data": {"message": {"id": cursor, "workflow_id": room, "sender": "bench@example.com",
                                          "message_type": "text", "content": content}}}
            broadcast(rooms.get(room, ()), json.dumps(frame))
            return connection.respond(HTTPStatus.CREATED, "ok\n")
        return None  # a WebSocket handshake

    async def handler(socket):
        room = socket.request.path.rstrip("/").rpartition("/")[2]
        members = rooms.setdefault(room, set())
        members.add(socket)
        try:
            await socket.send(json.dumps({"type": "ready", "data": {"groups": [f"workflow.{room}"], "cursor": cursor}}))
            async for raw in socket:
                if '"ping"' in raw:
                    await socket.send('{"type": "pong"}')
        except Exception:
            pass
        finally:
            members.discard(socket)

    async with serve(handler, "127.0.0.1", port, process_request=process_request, compression=None,
                     ping_interval=None, max_queue=None, backlog=4096):
        await asyncio.get_running_loop().create_future()


def start_rooms_server(workdir: Path) -> Server:
    port = free_port()
    server = Server([sys.executable, "-m", "bench.mix", "rooms", str(port)], None, port, workdir / f"rooms-{port}.log")
    server.wait_until_ready()
    return server


# --- Profiling several processes ------------------------------------------------------------


@contextmanager
def profiled(pids: list[int], path: Path, enabled: bool):
    """py-spy on each of `pids` and their children (gunicorn's workers), one raw file, merged."""
    if not enabled:
        yield
        return
    py_spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not py_spy:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [path.with_suffix(f".{pid}.txt") for pid in pids]
    processes = [
        subprocess.Popen([py_spy, "record", "-p", str(pid), "--subprocesses", "-r", "100", "--format", "raw",
                          "-o", str(part), "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for pid, part in zip(pids, parts)
    ]
    time.sleep(1.0)
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        with open(path, "w") as merged:
            for part in parts:
                if part.exists():
                    merged.write(part.read_text())
                    part.unlink()


# --- The legs -------------------------------------------------------------------------------


def harbor_leg(run, plan, rooms: int, participants: int) -> dict:
    database = run.database()
    try:
        env = run.prepare(database)
        seeded = run.seed(env, "rooms", workflows=rooms, participants=participants)["rooms"]
        scale_out = run.db == "postgres"
        sockets = run.daphne(env, run.processes or 2) if scale_out else run.daphne(env, 1)
        http = run.gunicorn(env, 4) if scale_out else sockets[0]
        try:
            urls = []
            for room, seeded_room in enumerate(seeded):
                for tickets in seeded_room["tickets"]:
                    server = sockets[len(urls) % len(sockets)]
                    path = f"{server.ws_url}/ws/workflow/{seeded_room['workflow_id']}/?ticket="
                    urls.append((room, [path + ticket for ticket in tickets]))

            async def post(room, index, content):
                seeded_room = seeded[room]
                token = seeded_room["tokens"][index % len(seeded_room["tokens"])]
                status, _ = await async_http(
                    "POST", f"{http.url}/api/workflows/{seeded_room['workflow_id']}/messages",
                    json.dumps({"content": content}).encode(),
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                return status

            profile_path = RESULTS_DIR / f"mix-{run.db}-profile.txt"
            pids = [http.pid] + [server.pid for server in sockets if server is not http]
            with profiled(pids, profile_path, run.options.get("profile")):
                measured = asyncio.run(measure(urls, post, plan))
            measured["tiers"] = f"gunicorn ×4 + daphne ×{len(sockets)}" if scale_out else "daphne ×1"
            if run.options.get("profile"):
                measured["profile"] = summarise_profile(profile_path, top=25)
                print_profile(measured["profile"])
            return measured
        finally:
            for server in {id(s): s for s in [*sockets, http]}.values():
                server.stop()
    finally:
        database.drop()


def baseline_leg(run, plan, rooms: int, participants: int) -> dict:
    server = start_rooms_server(run.workdir)
    try:
        urls = [(room, [f"{server.ws_url}/ws/{room}"] * CONNECT_ATTEMPTS) for room in range(rooms) for _ in range(participants)]

        async def post(room, index, content):
            status, _ = await async_http("GET", f"{server.url}/post?room={room}&content={quote(content)}")
            return status

        measured = asyncio.run(measure(urls, post, plan))
        measured["tiers"] = "websockets ×1"
        return measured
    finally:
        server.stop()


def row(name: str, db: str, leg: dict, baseline: dict | None) -> dict:
    return {
        "leg": name, "db": db, "tiers": leg["tiers"], "sockets": leg["sockets"], "connected": leg["connected"],
        "posts": leg["posts"], "achieved /s": leg["achieved_rate"], "delivered %": leg["delivered_pct"],
        "closed": leg["closed_during_run"], "p50 ms": leg["latency"]["p50_ms"], "p99 ms": leg["latency"]["p99_ms"],
        "max ms": leg["latency"]["max_ms"], "POST p50 ms": leg["post"]["p50_ms"], "POST p99 ms": leg["post"]["p99_ms"],
        "p99 ×base": ratio(leg["latency"]["p99_ms"], baseline["latency"]["p99_ms"]) if baseline else None,
    }


@benchmark("mix", "sockets over many 5-person workflows, posts at a steady open-loop rate, vs a websockets rooms server")
def mix(run) -> Result:
    rooms = run.options.get("rooms") or (20 if run.quick else 200)
    participants = 5
    rate = run.options.get("rate") or (20 if run.quick else 100)
    duration = run.options.get("duration") or (5 if run.quick else 20)
    plan = schedule(rooms, rate, duration)
    parameters = {"rooms": rooms, "participants": participants, "sockets": rooms * participants, "rate_per_s": rate,
                  "duration_s": duration, "posts": len(plan), "load": "open-loop, latency from the scheduled time",
                  "mode": "scale-out (gunicorn ×4, daphne ×2, PostgreSQL + Redis)" if run.db == "postgres"
                  else "embedded (daphne ×1, SQLite + in-memory layer)"}
    harbor = harbor_leg(run, plan, rooms, participants)
    baseline = baseline_leg(run, plan, rooms, participants)
    rows = [row("harbor", run.db, harbor, baseline), row("baseline websockets rooms", "-", baseline, None)]
    p99_ratio = rows[0]["p99 ×base"]
    met = (harbor["delivered_pct"] == 100.0 and harbor["closed_during_run"] == 0 and p99_ratio is not None
           and p99_ratio <= 3 and harbor["achieved_rate"] is not None and harbor["achieved_rate"] >= 0.95 * rate)
    notes = [f"target (100 % delivered, 0 closed, p99 ≤ 3× baseline, {rate}/s sustained): {'met' if met else 'MISSED'}"]
    ok = harbor["post_statuses"].get("201", 0) == len(plan) and harbor["connected"] == harbor["sockets"]
    if not ok:
        notes.append(f"POST statuses {harbor['post_statuses']}; connected {harbor['connected']} of {harbor['sockets']}")
    return Result(rows=rows, parameters=parameters, data={"harbor": harbor, "baseline": baseline}, ok=ok, notes=notes)


if __name__ == "__main__":
    if sys.argv[1:2] == ["rooms"]:
        asyncio.run(rooms_server(int(sys.argv[2])))
    else:
        sys.exit("usage: python -m bench.mix rooms <port>")

"""What every benchmark shares: a fresh database, seeding through Harbor's services, real daphne
processes with production-like settings, percentiles, the table and the JSON results.

The runner itself never imports Django: Harbor runs in subprocesses (migrate, seed, daphne)
configured only through the environment, exactly as in production.
"""

import asyncio
import base64
import collections
import datetime
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"

#: Ours on the shared machine (see docs/performance.md); never the lead's `test` database or /0–/5.
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
POSTGRES_DB = os.environ.get("BENCH_POSTGRES_DB", "harbor_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")

BENCHMARKS: dict[str, "Benchmark"] = {}


@dataclass
class Benchmark:
    name: str
    description: str
    run: callable


def benchmark(name: str, description: str):
    """Register `fn(run: Run) -> Result` under `name` for `bin/bench`."""

    def register(fn):
        BENCHMARKS[name] = Benchmark(name, description, fn)
        return fn

    return register


@dataclass
class Result:
    """One benchmark on one database: table rows for people, `data` for the JSON file."""

    rows: list[dict]
    parameters: dict
    data: dict = field(default_factory=dict)
    ok: bool = True
    notes: list[str] = field(default_factory=list)


# --- Statistics -----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict:
    """p50/p99/max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": _round(percentile(ms, 50)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
    }


def ratio(value, baseline) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 2)


def _round(value, digits=2):
    return None if value is None else round(value, digits)


# --- Table and results ----------------------------------------------------------------------


def print_table(title: str, rows: list[dict]) -> None:
    if not rows:
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths)))
    print("  ".join("-" * width for width in widths))
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def write_results(name: str, db: str, command: list[str], result: Result, started: float) -> Path:
    """`bench/results/<name>.json` keeps one run per database, so running one leg keeps the other."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        existing = {}
    runs = existing.get("runs", {}) if existing.get("benchmark") == name else {}
    runs[db] = {
        "command": " ".join(command),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "parameters": result.parameters,
        "ok": result.ok,
        "notes": result.notes,
        "table": result.rows,
        "data": result.data,
    }
    path.write_text(json.dumps({"benchmark": name, "runs": runs}, indent=2, sort_keys=False) + "\n")
    return path


# --- Database, settings, seeding ------------------------------------------------------------


class Database:
    """A fresh benchmark database: a temporary SQLite file or PostgreSQL `harbor_bench`."""

    def __init__(self, kind: str, workdir: Path):
        if kind not in ("sqlite", "postgres"):
            raise ValueError(f"--db must be sqlite or postgres, not {kind!r}")
        self.kind = kind
        self.workdir = workdir
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / 'harbor_bench.sqlite3'}"
        else:
            self.url = f"{POSTGRES_ADMIN_URL}/{POSTGRES_DB}"

    def create(self) -> None:
        if self.kind == "postgres":
            self.drop()
            _postgres_admin(f'CREATE DATABASE "{POSTGRES_DB}"')

    def drop(self) -> None:
        if self.kind == "postgres":
            _postgres_admin(f'DROP DATABASE IF EXISTS "{POSTGRES_DB}" WITH (FORCE)')

    @property
    def scale_out(self) -> bool:
        """PostgreSQL runs in scale-out mode (Redis channel layer and cache); SQLite embedded."""
        return self.kind == "postgres"


def _postgres_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_ADMIN_URL}/postgres", autocommit=True) as connection:
        connection.execute(sql)


def flush_redis() -> None:
    """Empty our channel-layer database and the cache above it (redis://…/6 and /7)."""
    import redis

    for offset in (0, 1):
        base, _, db = REDIS_URL.rpartition("/")
        client = redis.Redis.from_url(f"{base}/{int(db) + offset}")
        client.flushdb()
        client.close()


def harbor_env(database: Database, **extra) -> dict:
    """Production-like settings: DEBUG off, a random SECRET_KEY, only 127.0.0.1, throttles
    raised so the load is measured rather than refused."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "REDIS_CACHE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DATABASE_URL=database.url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # a Fernet key
        ALLOWED_HOSTS="127.0.0.1",
        THROTTLE_USER="10000000/min",
        THROTTLE_ANON="10000000/min",
        WS_TICKET_TTL="3600",
        LOG_LEVEL="WARNING",
        CHANNELS_PREFIX="harbor-bench",
        PYTHONUNBUFFERED="1",
    )
    if database.scale_out:
        env["REDIS_URL"] = REDIS_URL
    env.update({key: str(value) for key, value in extra.items()})
    return env


def manage(env: dict, *args, timeout=300) -> str:
    completed = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return completed.stdout


def seed(env: dict, scenario: str, **parameters) -> dict:
    """Run a scenario of `bench/seed.py` (Harbor's services, in a subprocess) and return its JSON.
    Seeding runs on the in-memory layer: nobody is connected yet, so there is nothing to deliver."""
    seed_env = {key: value for key, value in env.items() if key != "REDIS_URL"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.seed", scenario],
        cwd=BASE_DIR,
        env=seed_env,
        input=json.dumps(parameters),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"seeding {scenario} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- Processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server subprocess on 127.0.0.1 (daphne serving Harbor, or a baseline)."""

    def __init__(self, argv: list[str], env: dict, port: int, log: Path, ready_path: str = "/health", pass_fds=()):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.ready_path = ready_path
        self.log = log
        self._log_file = open(log, "wb")
        self.process = subprocess.Popen(
            argv, cwd=BASE_DIR, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, pass_fds=pass_fds
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_ready(self, timeout=30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _ = http_request("GET", self.url + self.ready_path, timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


#: As bin/serve and docs/deploy.md run daphne: a protocol ping only to a socket silent for 45 s,
#: longer than the pages' own 30 s ping (static/js/live-socket.js), so a page's socket gets none.
DAPHNE_OPTIONS = ["--ping-interval", "45"]


def start_daphne(env: dict, count: int, workdir: Path, application="project.asgi:application", ready_path="/health",
                 shared=False):
    """`count` daphne processes, each ready before this returns: on free ports of their own, or
    with `shared`, all accepting on one listening socket (the kernel spreads the connections, as
    with daphne processes sharing a systemd socket behind nginx), so one URL load-balances."""
    servers = []
    listener = None
    if shared:
        listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
        listener.set_inheritable(True)
    try:
        for index in range(count):
            if listener:
                port = listener.getsockname()[1]
                where, pass_fds = ["--fd", str(listener.fileno())], (listener.fileno(),)
            else:
                port = free_port()
                where, pass_fds = ["-b", "127.0.0.1", "-p", str(port)], ()
            argv = [sys.executable, "-m", "daphne", *DAPHNE_OPTIONS, *where, application]
            servers.append(Server(argv, env, port, workdir / f"daphne-{index}-{port}.log", ready_path, pass_fds))
    finally:
        if listener:
            listener.close()  # the children hold it
    try:
        for server in servers:
            server.wait_until_ready()
    except Exception:
        for server in servers:
            server.stop()
        raise
    return servers


def start_gunicorn(env: dict, workers: int, workdir: Path, application=None, ready_path="/health") -> Server:
    """gunicorn with `workers` sync workers serving project.wsgi (the scale-out HTTP tier)."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--backlog", "4096",
            "--log-level", "warning", application or "project.wsgi:application"]
    server = Server(argv, env, port, workdir / f"gunicorn-{port}.log", ready_path)
    server.wait_until_ready()
    return server


def http_request(method: str, url: str, body=None, token=None, timeout=10.0) -> tuple[int, bytes]:
    """A blocking request (urllib), for setup steps."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def async_http(method: str, url: str, body: bytes = b"", headers: dict | None = None, timeout=30.0):
    """One HTTP/1.1 request on a fresh connection, without blocking the event loop that holds
    the benchmark's sockets. Returns (status, body)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        head = [f"{method} {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}", "Connection: close"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        head.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


class Profiler:
    """`with Profiler(pid, path):` samples a server process with py-spy while the block runs
    (collapsed stacks in `path`; `summarise_profile` reads them). Does nothing unless enabled."""

    def __init__(self, pid: int, path: Path, enabled=True):
        self.pid, self.path, self.enabled = pid, path, enabled
        self.process = None

    def __enter__(self):
        if self.enabled:
            py_spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
            if not py_spy:
                raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            argv = [py_spy, "record", "-p", str(self.pid), "-r", "200", "--format", "raw", "-o", str(self.path), "--nonblocking"]
            self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # attached before the load starts
        return self

    def __exit__(self, *exc):
        if self.process:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class CpuMeter:
    """`with CpuMeter() as meter:` then `meter.cores`: the cores each kind of process used while
    the block ran (Harbor's servers, a peer's workers, PostgreSQL, Redis, the load generators,
    the rest), from /proc: who shares the machine's cores during a leg. A process that started
    during the block counts whole; one that ended before its end is missed. Empty where there
    is no /proc."""

    KINDS = (("harbor", ("gunicorn", "daphne")), ("peer", ("bench.peers",)), ("postgres", ("postgres",)),
             ("redis", ("redis-server",)), ("load", ("wrk", "pgbench")))

    def __init__(self):
        self.cores: dict[str, float] = {}

    @classmethod
    def _kind(cls, pid: str) -> str:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return "other"
        head = " ".join(part.decode(errors="replace") for part in argv[:3])
        return next((kind for kind, names in cls.KINDS if any(name in head for name in names)), "other")

    @staticmethod
    def _times() -> dict[str, float]:
        ticks, times = os.sysconf("SC_CLK_TCK"), {}
        for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
            if pid.isdigit():
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                times[pid] = (int(fields[11]) + int(fields[12])) / ticks
        return times

    def __enter__(self):
        self._before, self._started = self._times(), time.monotonic()
        return self

    def __exit__(self, *exc):
        after, elapsed = self._times(), time.monotonic() - self._started
        used: dict[str, float] = {}
        for pid, seconds in after.items():
            kind = self._kind(pid)
            used[kind] = used.get(kind, 0.0) + seconds - self._before.get(pid, 0.0)
        self.cores = {kind: round(seconds / elapsed, 2) for kind, seconds in sorted(used.items()) if seconds > 0}


#: py-spy names frames by module path: these are Harbor's.
HARBOR_PACKAGES = ("project/", "workflows/", "notifications/", "queue_app/", "subscriptions/")


def summarise_profile(path: Path, top=15) -> list[dict]:
    """The heaviest functions of a py-spy raw profile: Harbor's own (inclusive time) first,
    then the top of the stacks (self time), each as a share of all samples."""
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples, frames = int(count), stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return []
    ours = [f for f, _ in inclusive.most_common() if f.split("(", 1)[-1].startswith(HARBOR_PACKAGES)][:top]
    rows = [{"kind": "ours, inclusive", "function": f, "pct": round(100 * inclusive[f] / total, 1)} for f in ours]
    rows += [{"kind": "self", "function": f, "pct": round(100 * n / total, 1)} for f, n in own.most_common(top)]
    return rows


def print_profile(rows: list[dict]) -> None:
    for row in rows:
        print(f"   {row['pct']:5.1f}%  {row['kind']:<16} {row['function']}")


@dataclass
class Run:
    """What a benchmark gets: the options, a scratch directory and the harness's helpers."""

    quick: bool
    db: str
    processes: int | None
    workdir: Path
    options: dict = field(default_factory=dict)

    def database(self) -> Database:
        database = Database(self.db, self.workdir)
        database.create()
        return database

    def harbor_env(self, database: Database, **extra) -> dict:
        return harbor_env(database, **extra)

    def prepare(self, database: Database, **extra) -> dict:
        """Harbor's environment for `database`, with Redis emptied (scale-out) and migrations run."""
        env = harbor_env(database, **extra)
        if database.scale_out:
            flush_redis()
        self.migrate(env)
        return env

    def migrate(self, env: dict) -> None:
        manage(env, "migrate", "--noinput")

    def seed(self, env: dict, scenario: str, **parameters) -> dict:
        return seed(env, scenario, **parameters)

    def daphne(self, env: dict, count: int, **kwargs) -> list[Server]:
        return start_daphne(env, count, self.workdir, **kwargs)

    def gunicorn(self, env: dict, workers: int, application=None) -> Server:
        return start_gunicorn(env, workers, self.workdir, application)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="harbor-bench-"))


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

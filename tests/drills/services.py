"""Private Redis and PostgreSQL servers that a drill may stop and start without disturbing
anything else on the machine (other test runs share the usual ones)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import BASE_DIR, free_port

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None) if Path("/usr/lib/postgresql").exists() else None


def wait_for(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up")
        time.sleep(0.05)


def manage(database_url, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


class PrivateRedis:
    available = shutil.which("redis-server") is not None

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        ping = ["redis-cli", "-p", str(self.port), "ping"]
        wait_for(lambda: subprocess.run(ping, capture_output=True).stdout.strip() == b"PONG", "redis-server")

    def stop(self):
        self.process.kill()
        self.process.wait()


class PrivatePostgres:
    """A throwaway cluster owned by the `postgres` system user (initdb refuses to run as root)."""

    available = PG_BIN is not None and shutil.which("runuser") is not None

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="harbor-drill-pg-"))
        shutil.chown(self.root, "postgres")
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/harbor"
        self._as_postgres(PG_BIN / "initdb", "-D", self.root / "data", "-A", "trust", "-U", "postgres")
        self.start()
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qc", "CREATE DATABASE harbor"], check=True)

    def _as_postgres(self, *command):
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True, capture_output=True)

    def start(self):
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.root / "data", "-o", options, "-l", self.root / "log", "-w", "start")

    def stop(self):
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.root / "data", "-m", "fast", "-w", "stop")

    def remove(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)

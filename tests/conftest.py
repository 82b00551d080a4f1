"""Shared fixtures. Personas: alice owns the "Acme" tenant, bob and carol are her teammates
there, and mallory belongs to another tenant and must never see Acme's data."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from project.accounts import services
from project.accounts.models import Membership

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


#: A real 1×1 PNG (70 bytes, made by Pillow): shared images are decoded for their thumbnail.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63e00ebff01f0003d50232d8a33fef0000000049454e44ae426082"
)


@pytest.fixture(autouse=True, scope="session")
def test_only_settings(tmp_path_factory, django_test_environment):
    """Pages render without `collectstatic` (production hashes static names), uploads go to a
    temporary directory, and passwords hash fast: PBKDF2's deliberate slowness made every
    persona cost a third of a second. Mail goes to the outbox as in production (Django's test
    setup would have it skip the outbox); `send_email` then delivers it to `mail.outbox`, or to
    a real SMTP server with the `smtp_server` fixture."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(
        STORAGES=storages,
        MEDIA_ROOT=tmp_path_factory.mktemp("media"),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="project.mail.backends.OutboxBackend",
        EMAIL_DELIVERY_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ):
        yield


@pytest.fixture(autouse=True, scope="session")
def close_pooled_connections_before_teardown(django_db_setup, django_db_blocker):
    """The test database cannot be dropped while connections to it are open: return this
    thread's connection to psycopg's pool, then close the pool with every idle one in it. A
    connection the pool lent to another thread of this process (asgiref's executor, behind a
    test's `sync_to_async`) is never returned: its session is ended here, over a connection
    of its own, or the drop fails ("is being accessed by other users")."""
    yield
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock():
            connection.close()
            connection.close_pool()
            import psycopg

            settings_dict = connection.settings_dict
            with psycopg.connect(
                dbname=settings_dict["NAME"], user=settings_dict["USER"], host=settings_dict["HOST"],
                port=settings_dict["PORT"] or None, password=settings_dict["PASSWORD"] or None, autocommit=True,
            ) as own:
                own.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def empty_cache():
    """Throttle and lockout counters live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fresh_breaker_memory():
    """What a process remembers of healthy breakers does not outlive the test's database rows."""
    from project.resilience import breaker

    breaker._local = breaker._HealthyInThisProcess()


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test runs its sockets on an event loop of its own, and channels-redis keeps asyncio
    locks that belong to the loop that last used them: a backup cleaner still holding one when
    a test's loop ended failed the next test with "bound to a different event loop". A new layer
    per test starts with none."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def alice(db):
    return services.register_user("alice@example.com", PASSWORD, display_name="Alice")


@pytest.fixture
def acme(alice):
    return services.create_tenant(alice, "Acme")


@pytest.fixture
def bob(db, acme, alice):
    user = services.register_user("bob@example.com", PASSWORD, display_name="Bob")
    services.add_member(acme, Membership.objects.get(user=alice, tenant=acme), user.email)
    return user


@pytest.fixture
def carol(db, acme, alice):
    """Another Acme member, for a workflow she only reads (or does not take part in)."""
    user = services.register_user("carol@example.com", PASSWORD, display_name="Carol")
    services.add_member(acme, Membership.objects.get(user=alice, tenant=acme), user.email)
    return user


@pytest.fixture
def mallory(db):
    return services.register_user("mallory@evil.example", PASSWORD, display_name="Mallory")


@pytest.fixture
def api_client():
    return APIClient()


def bearer_client(user, name="tests") -> APIClient:
    _, raw = services.issue_api_token(user, name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def alice_api(alice):
    return bearer_client(alice)


@pytest.fixture
def mallory_api(mallory):
    return bearer_client(mallory)


def subprocess_database_url() -> str:
    """A DATABASE_URL that points a subprocess at the test database this test uses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def run_manage(*args, timeout=60, **env) -> subprocess.CompletedProcess:
    """Run `manage.py` in a separate process against the test database."""
    full_env = {**os.environ, "DATABASE_URL": subprocess_database_url(), **env}
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(method: str, url: str, body=None, token=None, headers=None) -> tuple[int, dict]:
    """A real HTTP request (urllib) to a live server; returns (status, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class DaphneProcess:
    """A real daphne process serving Harbor (HTTP + WebSockets) on the test database;
    pytest-django's live_server cannot serve WebSockets. `env` adds to its environment."""

    def __init__(self, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": subprocess_database_url(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            **(env or {}),
        }
        # A file, not a pipe: nobody reads daphne's output while it runs, and a full pipe blocks it.
        self.log = tempfile.TemporaryFile()
        self.start()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "project.asgi:application"]

    def start(self):
        """(Re)start on the same port."""
        self.process = subprocess.Popen(
            self.command(),
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def log_tail(self, size=2000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-size:]

    def wait_until_healthy(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if http_json("GET", f"{self.url}/health")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.command()[2]} did not start: {self.log_tail()}")
            time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class GunicornProcess(DaphneProcess):
    """gunicorn's sync workers serving Harbor's HTTP (project.wsgi), the scale-out HTTP tier."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "project.wsgi:application"]


@pytest.fixture
def gunicorn_process(transactional_db):
    server = GunicornProcess()
    server.wait_until_healthy()
    yield server
    server.stop()


@pytest.fixture
def daphne_processes(transactional_db):
    """Start n daphne processes: `daphne_processes(2)` → [DaphneProcess, DaphneProcess];
    `env=` adds to their environment."""
    started = []

    def start(count=1, env=None):
        batch = [DaphneProcess(env) for _ in range(count)]
        started.extend(batch)
        for server in batch:
            server.wait_until_healthy()
        return batch

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_daphne(daphne_processes):
    """One daphne process; yields its base URL."""
    return daphne_processes(1)[0].url


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 (tests/smtp.py), and settings that deliver to it."""
    from tests.smtp import SmtpServer

    server = SmtpServer(free_port())
    server.start()
    for name, value in server.settings().items():
        setattr(settings, name, value)
    yield server
    server.stop()


"""Failure drill: PostgreSQL restarts while the long-running loops run (the queue bot and the
subscriptions poller). They log, keep going, and once the database is back finish the work:
every message answered exactly once, every feed item stored once, nothing lost."""

import os
import signal
import subprocess
import sys
import tempfile
import time

import psycopg
import pytest
from django.db import connection

from tests.conftest import BASE_DIR
from tests.subscriptions.fake_provider import FakeProvider

from .services import PrivatePostgres, manage, wait_for

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="scale-out drill: runs on the PostgreSQL + Redis leg"),
    pytest.mark.skipif(not PrivatePostgres.available, reason="needs PostgreSQL's server binaries and runuser"),
]

POST = """
from project.accounts import services as accounts
from project.accounts.models import User
from queue_app import services
author = User.objects.filter(email="ann@example.com").first() or accounts.register_user("ann@example.com", "correct horse battery staple")
for n in range({count}):
    services.post_message(author, "{label} %d" % n)
"""


def query(url, sql) -> list[tuple]:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=2) as db:
        return db.execute(sql).fetchall()


def counts(url) -> dict:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=2) as db:
        humans = dict(db.execute("SELECT status, count(*) FROM queue_app_queuemessage WHERE message_type = 'human' GROUP BY status").fetchall())
        replies, answered = db.execute(
            "SELECT count(*), count(DISTINCT reply_to_id) FROM queue_app_queuemessage WHERE message_type = 'ai'"
        ).fetchone()
    return {**humans, "replies": replies, "answered": answered}


@pytest.fixture
def start_loop(postgres):
    """Start `manage.py <args>` on the drill's database; returns the process, with its output
    in `process.log`."""
    started = []

    def start(*args, **env):
        log = tempfile.TemporaryFile()
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env={**os.environ, "DATABASE_URL": postgres.url, "LOG_LEVEL": "INFO", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop_and_read(process) -> str:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    process.log.seek(0)
    return process.log.read().decode(errors="replace")


def test_the_bot_rides_out_a_database_restart(postgres, start_loop):
    bot = start_loop("run_bot", "--concurrency", "2", "--idle-seconds", "0.2")
    manage(postgres.url, "shell", "--no-imports", "-c", POST.format(count=10, label="before"))
    wait_for(lambda: counts(postgres.url).get("complete") == 10, "the first answers", timeout=30)

    postgres.stop()
    time.sleep(2)  # the bot keeps trying meanwhile
    assert bot.poll() is None, "the bot died with the database"
    postgres.start()

    manage(postgres.url, "shell", "--no-imports", "-c", POST.format(count=10, label="after"))
    wait_for(lambda: counts(postgres.url).get("complete") == 20, "the answers after the restart", timeout=60)
    assert counts(postgres.url) == {"complete": 20, "replies": 20, "answered": 20}

    assert "queue bot: claim failed" in stop_and_read(bot)  # it noticed, logged and went on


CONNECT = """
import requests
from project.accounts import services as accounts
from subscriptions import services
callback_url = "http://testserver/subscriptions/callback/"
user = accounts.register_user("listener@example.com", "correct horse battery staple")
url, state, verifier = services.start_connect("spotify", callback_url)
callback = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
account = services.complete_connect(user, "spotify", callback, state=state, verifier=verifier, redirect_uri=callback_url)
services.add_subscription(account, "spotify_show", "show-1")
"""


def feed(url) -> list[str]:
    return sorted(row[0] for row in query(url, "SELECT external_id FROM subscriptions_feeditem"))


def test_the_poller_rides_out_a_database_restart(postgres, start_loop):
    provider = FakeProvider().start()
    try:
        env = {
            **provider.env_for("spotify"),
            "RETRY_MAX_ATTEMPTS": "1",
            "SUBSCRIPTIONS_POLL_INTERVAL_SECONDS": "1",
            "SUBSCRIPTIONS_LOOP_SLEEP_SECONDS": "0.3",
        }
        provider.login_as("listener-spotify").add_item("spotify_show", "show-1", "ep-before", "2026-11-01")
        subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", CONNECT],
            cwd=BASE_DIR, env={**os.environ, "DATABASE_URL": postgres.url, **env}, check=True, capture_output=True,
        )
        poller = start_loop("poll_subscriptions", "--loop", **env)
        wait_for(lambda: feed(postgres.url) == ["ep-before"], "the first poll", timeout=30)

        postgres.stop()
        time.sleep(2)
        assert poller.poll() is None, "the poller died with the database"
        postgres.start()

        provider.add_item("spotify_show", "show-1", "ep-after", "2026-11-20")
        wait_for(lambda: feed(postgres.url) == ["ep-after", "ep-before"], "a poll after the restart", timeout=60)
        time.sleep(1.5)  # more polls: still each item once
        assert feed(postgres.url) == ["ep-after", "ep-before"]
        assert "the database is unavailable" in stop_and_read(poller)
    finally:
        provider.stop()

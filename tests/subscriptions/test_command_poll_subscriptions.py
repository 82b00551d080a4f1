"""`manage.py poll_subscriptions` in real processes against the test database."""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from project.accounts import services as accounts
from project.workers.models import WorkerHeartbeat
from subscriptions import services
from subscriptions.models import FeedItem, PollRun, PollSchedule
from tests.conftest import BASE_DIR, PASSWORD, run_manage, subprocess_database_url

from .conftest import connect

pytestmark = pytest.mark.django_db(transaction=True)


def start_manage(*args, **env) -> subprocess.Popen:
    full_env = {**os.environ, "DATABASE_URL": subprocess_database_url(), **env}
    return subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def users_with_a_show(fake, count):
    users = []
    for n in range(count):
        user = accounts.register_user(f"listener{n}@example.com", PASSWORD)
        account = connect(user, fake)
        fake.add_item("spotify_show", f"show{n}", f"ep{n}", "2026-11-01")
        services.add_subscription(account, "spotify_show", f"show{n}")
        users.append(user)
    return users


def test_two_overlapping_runs_never_poll_the_same_user_twice(fake):
    users = users_with_a_show(fake, 10)
    fake.delay = 0.3  # each provider call is slow, so the two runs overlap for seconds
    env = {**fake.env_for("spotify"), "RETRY_MAX_ATTEMPTS": "1"}
    # Batches of two: a run claims ten users in one batch by default, and the other would find none.
    runs = [start_manage("poll_subscriptions", "--concurrency", "2", "--batch-size", "2", **env) for _ in range(2)]
    outputs = [run.communicate(timeout=90) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    polled = [int(re.search(r"Polled (\d+) users", out).group(1)) for out, _ in outputs]
    assert sum(polled) == 10
    assert min(polled) > 0, polled  # both runs really worked at the same time
    per_account = fake.calls_per_account("/v1/shows")
    assert sorted(per_account.values()) == [1] * 10  # every user polled exactly once
    assert FeedItem.objects.count() == 10
    assert PollRun.objects.count() == 2
    assert not PollSchedule.objects.filter(locked_until__isnull=False).exists()
    assert len(users) == 10


def test_dry_run_lists_who_is_due_and_polls_nobody(alice, fake):
    connect(alice, fake)
    services.ensure_schedule(alice)
    result = run_manage("poll_subscriptions", "--dry-run", **fake.env_for("spotify"))
    assert result.returncode == 0, result.stderr
    assert "due: alice@example.com" in result.stdout
    assert "Dry run: 1 users due, none polled." in result.stdout
    assert fake.api_calls("/v1/shows") == [] and not PollRun.objects.exists()


def test_user_option_polls_that_user_now(alice, bob, fake):
    for user in (alice, bob):
        services.add_subscription(connect(user, fake), "spotify_show", "show1")
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    PollSchedule.objects.update(next_poll_at=timezone.now() + timedelta(hours=1))
    result = run_manage("poll_subscriptions", "--user", "BOB@example.com", **fake.env_for("spotify"))
    assert result.returncode == 0, result.stderr
    assert "Polled 1 users: 1 new items, 0 failures" in result.stdout
    assert list(FeedItem.objects.values_list("user__email", flat=True)) == ["bob@example.com"]


def test_bad_arguments_are_refused(db):
    unknown = run_manage("poll_subscriptions", "--user", "nobody@example.com")
    assert unknown.returncode != 0 and "no such user: nobody@example.com" in unknown.stderr
    zero = run_manage("poll_subscriptions", "--concurrency", "0")
    assert zero.returncode != 0 and "--concurrency must be at least 1" in zero.stderr
    empty = run_manage("poll_subscriptions", "--batch-size", "0")
    assert empty.returncode != 0 and "--batch-size must be at least 1" in empty.stderr


def test_loop_polls_beats_and_stops_quickly_on_sigterm(alice, fake):
    services.add_subscription(connect(alice, fake), "spotify_show", "show1")
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    run = start_manage("poll_subscriptions", "--loop", SUBSCRIPTIONS_LOOP_SLEEP_SECONDS="60",
                       WORKER_HEARTBEAT_SECONDS="0.2", WORKER_STALE_SECONDS="5", **fake.env_for("spotify"))
    try:
        deadline = time.monotonic() + 30
        while not FeedItem.objects.exists() and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.1)
        assert FeedItem.objects.count() == 1
        assert WorkerHeartbeat.objects.get(name="poll_subscriptions").state != "stopped"
        stopped_at = time.monotonic()
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err
    assert time.monotonic() - stopped_at < 3  # sliced sleep, not the 60 s one
    assert "Polled 1 users: 1 new items" in out and "Stopped." in out
    assert WorkerHeartbeat.objects.get(name="poll_subscriptions").state == "stopped"

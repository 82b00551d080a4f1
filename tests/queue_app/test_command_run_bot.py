"""`manage.py run_bot` as operators run it: real subprocesses, real signals."""

import os
import signal
import subprocess
import sys
import time

import pytest

from project.workers.models import WorkerHeartbeat
from queue_app import services
from queue_app.bot import BotEngine
from queue_app.models import QueueMessage

from ..conftest import BASE_DIR, run_manage, subprocess_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def start_bot(*args, **env):
    full_env = {**os.environ, "DATABASE_URL": subprocess_database_url(), **env}
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "run_bot", *args],
        cwd=BASE_DIR, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def status_of(message):
    return QueueMessage.objects.values_list("status", flat=True).get(pk=message.pk)


def test_once_answers_and_reports(alice):
    services.post_message(alice, "hello")
    result = run_manage("run_bot", "--once", "--concurrency", "2")
    assert result.returncode == 0, result.stderr
    assert "answered 1, failed 0" in result.stdout
    assert QueueMessage.objects.get(message_type="ai").text == "echo heard: hello"
    assert WorkerHeartbeat.objects.get(name="queue-bot").state == "stopped"


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--provider", "nope"], "--provider"),
        (["--entity", "Bad Entity"], "--entity"),
        (["--concurrency", "0"], "--concurrency"),
        (["--lease-seconds", "0"], "--lease-seconds"),
        (["--api-url", "http://127.0.0.1:9"], "--token"),
        (["--name", "answerer"], "--name must start with 'queue-bot'"),  # the queue page would not count it
    ],
)
def test_bad_arguments_are_refused(args, complaint):
    result = run_manage("run_bot", "--once", *args)
    assert result.returncode != 0 and complaint in result.stderr


def test_sigterm_finishes_the_answer_in_flight_and_exits(alice):
    message = services.post_message(alice, "slow")
    bot = start_bot("--idle-seconds", "0.1", QUEUE_ECHO_DELAY_SECONDS="1.5")
    try:
        wait_for(lambda: status_of(message) == "processing")
        bot.send_signal(signal.SIGTERM)
        out, err = bot.communicate(timeout=20)
    finally:
        bot.kill()
    assert bot.returncode == 0, err
    assert status_of(message) == "complete" and "answered 1" in out, (out, err)


def test_a_worker_killed_mid_claim_is_requeued_and_answered_by_another(alice):
    message = services.post_message(alice, "who answers me?")
    doomed = start_bot("--lease-seconds", "1", QUEUE_ECHO_DELAY_SECONDS="60")
    try:
        wait_for(lambda: status_of(message) == "processing")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        doomed.kill()
    first_claim = QueueMessage.objects.get(pk=message.pk)
    time.sleep(max(0.0, (first_claim.lease_expires_at.timestamp() - time.time()) + 0.1))
    stats = BotEngine(once=True, worker_prefix="survivor").run()  # requeues expired claims first
    assert stats.requeued == 1 and stats.answered == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("complete", 1)
    reply = QueueMessage.objects.get(reply_to=message)
    assert reply.claimed_by.startswith("survivor") and not first_claim.claimed_by.startswith("survivor")
    assert reply.text == "echo heard: who answers me?"

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from project.workers.models import WorkerHeartbeat
from project.workers.services import Heartbeat

pytestmark = pytest.mark.django_db


def workers_output(*args) -> str:
    out = StringIO()
    call_command("workers", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_table_with_up_and_down():
    Heartbeat("queue-bot").beat("answering 2 messages")
    Heartbeat("poller").beat("idle")
    WorkerHeartbeat.objects.filter(name="poller").update(last_seen=timezone.now() - timedelta(minutes=5))

    lines = workers_output().splitlines()
    assert lines[0].split() == ["NAME", "HOST", "PID", "STARTED", "LAST", "SEEN", "STATE", "UP/DOWN"]
    poller, bot = lines[1], lines[2]
    assert poller.startswith("poller") and "300s ago" in poller and poller.endswith("DOWN")
    assert bot.startswith("queue-bot") and "answering 2 messages" in bot and bot.endswith("UP")


def test_it_prints_json():
    Heartbeat("queue-bot").beat("idle")
    [worker] = json.loads(workers_output("--json"))
    assert worker["name"] == "queue-bot" and worker["up"] is True and worker["state"] == "idle"
    assert {"host", "pid", "started_at", "last_seen", "last_seen_ago_s"} <= worker.keys()


def test_it_says_so_when_no_worker_reported():
    assert "No workers" in workers_output()


def test_prune_removes_workers_silent_for_over_a_day():
    Heartbeat("old").beat("idle")
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(days=2))
    output = workers_output("--prune")
    assert "Pruned 1 workers" in output and not WorkerHeartbeat.objects.exists()

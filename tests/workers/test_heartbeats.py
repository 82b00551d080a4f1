from datetime import timedelta

import pytest
from django.utils import timezone

from project.workers.models import WorkerHeartbeat
from project.workers.services import STOPPED, Heartbeat, list_workers, prune_workers

from ..conftest import run_manage


@pytest.mark.django_db(transaction=True)
def test_a_worker_in_another_process_is_seen_up():
    code = "from project.workers.services import Heartbeat; Heartbeat('poller').beat('polling 3 users')"
    result = run_manage("shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr

    [worker] = list_workers()
    assert worker["name"] == "poller" and worker["state"] == "polling 3 users"
    assert worker["up"] is True


@pytest.mark.django_db
def test_beat_writes_at_most_once_per_interval(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 60
    heartbeat = Heartbeat("queue-bot")
    assert heartbeat.beat("idle") is True
    assert heartbeat.beat("busy") is False
    assert WorkerHeartbeat.objects.get().state == "idle"
    assert heartbeat.beat("busy", force=True) is True
    assert WorkerHeartbeat.objects.get().state == "busy"


@pytest.mark.django_db
def test_a_silent_worker_is_down_and_a_stopped_one_is_not_up(settings):
    settings.WORKER_STALE_SECONDS = 30
    Heartbeat("silent").beat("idle")
    WorkerHeartbeat.objects.filter(name="silent").update(last_seen=timezone.now() - timedelta(seconds=31))
    with Heartbeat("graceful") as heartbeat:
        heartbeat.beat("idle", force=True)

    workers = {w["name"]: w for w in list_workers()}
    assert workers["silent"]["up"] is False
    assert workers["graceful"]["up"] is False and workers["graceful"]["state"] == STOPPED


@pytest.mark.django_db
def test_prune_deletes_only_workers_silent_for_more_than_a_day():
    Heartbeat("old").stop()
    Heartbeat("recent").beat("idle")
    WorkerHeartbeat.objects.filter(name="old").update(last_seen=timezone.now() - timedelta(days=1, minutes=1))
    assert prune_workers() == 1
    assert list(WorkerHeartbeat.objects.values_list("name", flat=True)) == ["recent"]

"""`manage.py deliver_webhooks --loop` as real processes: killed mid-delivery (SIGKILL), the
event is delivered after a restart; two copies side by side send each event once; the
heartbeat shows in `manage.py workers`."""

import os
import signal
import subprocess
import sys
import time

import pytest

from project.realtime.models import Event
from project.webhooks.models import Endpoint
from project.workers.models import WorkerHeartbeat
from tests.conftest import BASE_DIR, run_manage, subprocess_database_url
from workflows import services as workflows

from .conftest import register

pytestmark = pytest.mark.django_db(transaction=True)

ENV = {
    "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",
    "OUTBOUND_ALLOW_HTTP": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "5",
    "WEBHOOK_LEASE_SECONDS": "6",
    "WEBHOOK_GAP_GRACE_SECONDS": "1",
    "WEBHOOK_LOOP_SLEEP_SECONDS": "0.1",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
    "WEBHOOK_RETRY_CAP_SECONDS": "0.5",
    "WORKER_HEARTBEAT_SECONDS": "0.5",
    "WORKER_STALE_SECONDS": "5",
}


def start_worker() -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), **ENV}
    return subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "deliver_webhooks", "--loop"], cwd=BASE_DIR,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def until(condition, timeout=20.0, what="the condition"):
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def test_a_worker_killed_mid_delivery_delivers_after_a_restart(alice, acme, receivers):
    receiver = receivers()
    endpoint = register(alice, acme, receiver)
    receiver.push(200, delay=3.0)  # the first request is still being answered when the worker dies
    workflows.create_workflow(acme, alice, "Survives")
    event = Event.objects.get(tenant_id=acme.pk, type="workflow.created")
    first = start_worker()
    try:
        until(lambda: len(receiver.attempts) == 1, what="the first attempt")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    endpoint.refresh_from_db()
    assert endpoint.cursor < event.pk and endpoint.leased_until is not None  # taken, not done
    killed_at = time.monotonic()
    second = start_worker()
    try:
        until(lambda: Endpoint.objects.get(pk=endpoint.pk).cursor == event.pk, what="the delivery after the restart")
        assert len(receiver.attempts) >= 2 and receiver.attempts[-1] > killed_at
        assert str(event.pk) in receiver.ids()  # the receiver deduplicates by webhook-id
        until(lambda: WorkerHeartbeat.objects.filter(name="deliver_webhooks", pid=second.pid).exists(), what="a heartbeat")
        listed = run_manage("workers", **ENV)
        assert "deliver_webhooks" in listed.stdout
    finally:
        err = stop(second)
    assert second.returncode == 0, err[-2000:]
    assert WorkerHeartbeat.objects.get(name="deliver_webhooks", pid=second.pid).state == "stopped"


def test_two_workers_side_by_side_send_each_event_once_in_order(alice, acme, receivers):
    receiver = receivers()
    register(alice, acme, receiver)
    workers = [start_worker(), start_worker()]
    try:
        workflow = workflows.create_workflow(acme, alice, "Twice?")
        from workflows.access import get_workflow_access

        access = get_workflow_access(alice, workflow.pk)
        for n in range(20):
            workflows.post_message(access, f"m{n}")
        expected = [str(pk) for pk in Event.objects.filter(tenant_id=acme.pk).order_by("id").values_list("id", flat=True)]
        until(lambda: len(receiver.received) >= len(expected), what="every event")
        time.sleep(0.5)
        assert receiver.ids() == expected
    finally:
        for worker in workers:
            stop(worker)

"""deliver_webhooks against a real receiver: signed, in order, once each when it comes back,
Retry-After honoured, tenants kept apart, a slow endpoint never holding the others."""

import time

import pytest
from django.core.management import call_command

from project.accounts import services as accounts
from project.accounts.models import Membership
from project.realtime.models import Event
from project.webhooks.delivery import deliver_once
from project.webhooks.models import Delivery, Endpoint
from workflows import services as workflows
from workflows.access import get_workflow_access

from .conftest import register

pytestmark = pytest.mark.django_db(transaction=True)


def post(user, workflow, count):
    access = get_workflow_access(user, workflow.pk)
    return [workflows.post_message(access, f"message {n}") for n in range(count)]


def tenant_events(tenant, after=0):
    return [str(pk) for pk in Event.objects.filter(tenant_id=tenant.pk, id__gt=after).order_by("id").values_list("id", flat=True)]


def test_events_arrive_signed_in_the_socket_frames_shape(alice, acme, receivers):
    receiver = receivers()
    endpoint = register(alice, acme, receiver)
    workflow = workflows.create_workflow(acme, alice, "Launch")
    post(alice, workflow, 1)
    assert deliver_once().sent == 2
    assert receiver.types() == ["workflow.created", "message.created"]
    event = Event.objects.get(type="message.created", tenant_id=acme.pk)
    headers, payload = receiver.received[1]
    assert headers["webhook-id"] == str(event.pk)
    assert payload == {**event.as_frame(), "tenant_id": acme.pk,
                       "timestamp": event.created_at.isoformat().replace("+00:00", "Z")}
    endpoint.refresh_from_db()
    assert endpoint.cursor == event.pk and endpoint.attempts == 0
    log = list(Delivery.objects.filter(endpoint=endpoint).order_by("id"))
    assert [(d.status, d.response_status, d.response_excerpt) for d in log] == [("succeeded", 200, "ok")] * 2
    assert deliver_once().sent == 0  # nothing twice


def test_a_new_endpoint_starts_from_now(alice, acme, receivers):
    workflows.create_workflow(acme, alice, "Before")
    receiver = receivers()
    register(alice, acme, receiver)
    workflows.create_workflow(acme, alice, "After")
    deliver_once()
    assert [p["data"]["workflow"]["title"] for _, p in receiver.received] == ["After"]


def test_a_receiver_down_then_back_gets_every_event_once_in_order(alice, acme, receivers, settings):
    receiver = receivers()
    endpoint = register(alice, acme, receiver)
    start = endpoint.cursor
    receiver.stop()
    workflow = workflows.create_workflow(acme, alice, "Outage")
    post(alice, workflow, 5)
    for _ in range(3):  # refused connections, backing off
        deliver_once()
        time.sleep(0.25)
    endpoint.refresh_from_db()
    assert endpoint.cursor == start and endpoint.attempts >= 2 and endpoint.failing_since is not None
    assert Delivery.objects.filter(endpoint=endpoint, status="failed", error="ConnectionError").exists()
    receiver.start()
    ends = time.monotonic() + 15
    while len(receiver.received) < 6 and time.monotonic() < ends:
        deliver_once()
        time.sleep(0.1)
    assert receiver.ids() == tenant_events(acme, after=start)  # each once, in order
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.attempts == 0


def test_a_429_with_retry_after_is_waited_out(alice, acme, receivers):
    receiver = receivers()
    endpoint = register(alice, acme, receiver)
    receiver.push(429, headers={"Retry-After": "1"}, body=b"slow down")
    workflows.create_workflow(acme, alice, "Busy")
    assert deliver_once().failed == 1
    assert deliver_once().sent == 0  # still waiting
    failed = Delivery.objects.get(endpoint=endpoint, status="failed")
    assert (failed.response_status, failed.response_excerpt) == (429, "slow down")
    time.sleep(1.05)
    assert deliver_once().sent == 1
    assert receiver.attempts[1] - receiver.attempts[0] >= 1.0
    assert receiver.types() == ["workflow.created"]


def test_two_tenants_never_receive_each_others_events(alice, acme, mallory, receivers):
    evil = accounts.create_tenant(mallory, "Evil")
    ours, theirs = receivers(), receivers()
    register(alice, acme, ours)
    register(mallory, evil, theirs)
    workflows.create_workflow(acme, alice, "Ours")
    workflows.create_workflow(evil, mallory, "Theirs")
    accounts.add_member(acme, Membership.objects.get(user=alice, tenant=acme), mallory.email)
    deliver_once()
    assert {p["tenant_id"] for _, p in ours.received} == {acme.pk}
    assert {p["tenant_id"] for _, p in theirs.received} == {evil.pk}
    assert ours.types() == ["workflow.created", "tenant_member.added"]
    assert theirs.types() == ["workflow.created"]
    # Mallory's own copy of her joining (her user group) is personal: it goes nowhere.
    assert all(p["group"] != mallory.group for _, p in ours.received + theirs.received)


def test_only_the_chosen_event_types_are_sent(alice, acme, receivers):
    receiver = receivers()
    endpoint = register(alice, acme, receiver, event_types=["message.created"])
    workflow = workflows.create_workflow(acme, alice, "Picky")
    post(alice, workflow, 2)
    deliver_once()
    assert receiver.types() == ["message.created"] * 2
    endpoint.refresh_from_db()
    assert endpoint.cursor == Event.objects.filter(tenant_id=acme.pk).latest("id").pk


def test_a_slow_endpoint_does_not_hold_up_another(alice, acme, receivers):
    slow, fast = receivers(), receivers()
    slow.default = slow.default.__class__(delay=2.0)
    register(alice, acme, slow)
    register(alice, acme, fast)
    workflows.create_workflow(acme, alice, "Race")
    started = time.monotonic()
    deliver_once(concurrency=2)
    assert len(slow.received) == len(fast.received) == 1
    assert fast.attempts[0] - started < 1.0  # served while the slow one was still answering


def test_a_loopback_address_is_refused_at_delivery_without_the_setting(alice, acme, receivers, settings):
    receiver = receivers()
    endpoint = register(alice, acme, receiver)
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    workflows.create_workflow(acme, alice, "Nope")
    deliver_once()
    assert receiver.attempts == []
    failed = Delivery.objects.get(endpoint=endpoint)
    assert failed.status == "failed" and "private or reserved" in failed.error


def test_an_endpoint_failing_past_the_window_is_disabled_and_its_owner_told(alice, acme, bob, receivers, settings):
    from notifications.models import Notification
    from project.mail.models import OutgoingEmail

    settings.WEBHOOK_GIVE_UP_SECONDS = 0.3
    receiver = receivers()
    receiver.default = receiver.default.__class__(status=500, body=b"boom")
    endpoint = register(alice, acme, receiver)
    workflows.create_workflow(acme, alice, "Doomed")
    deliver_once()
    time.sleep(0.4)
    deliver_once()
    endpoint.refresh_from_db()
    assert endpoint.status == Endpoint.Status.DISABLED and "HTTP 500" in endpoint.disabled_reason
    assert Notification.objects.filter(recipient=alice, kind="webhooks.endpoint_disabled").count() == 1
    assert not Notification.objects.filter(recipient=bob, kind="webhooks.endpoint_disabled").exists()
    [mail] = OutgoingEmail.objects.filter(subject__contains="Webhook disabled")
    assert mail.to == [alice.email] and endpoint.pk in mail.body
    attempts = len(receiver.attempts)
    deliver_once()
    assert len(receiver.attempts) == attempts  # nothing more is sent


def test_a_410_disables_at_once(alice, acme, receivers):
    receiver = receivers()
    receiver.push(410, body=b"gone")
    endpoint = register(alice, acme, receiver)
    workflows.create_workflow(acme, alice, "Gone")
    deliver_once()
    endpoint.refresh_from_db()
    assert endpoint.status == Endpoint.Status.DISABLED and "410" in endpoint.disabled_reason


def test_a_paused_endpoint_resumes_where_it_stopped(alice, acme, receivers):
    receiver = receivers()
    endpoint = register(alice, acme, receiver)
    membership = Membership.objects.get(user=alice, tenant=acme)
    from project.webhooks import services

    services.update_endpoint(membership, endpoint, status="paused")
    workflows.create_workflow(acme, alice, "While paused")
    deliver_once()
    assert receiver.received == []
    services.update_endpoint(membership, endpoint, status="active")
    deliver_once()
    assert receiver.types() == ["workflow.created"]


def test_prune_events_keeps_what_an_active_endpoint_has_not_sent(alice, acme, receivers):
    from datetime import timedelta

    from django.utils import timezone

    active, paused = receivers(), receivers()
    register(alice, acme, active)
    paused_endpoint = register(alice, acme, paused)
    from project.webhooks import services

    membership = Membership.objects.get(user=alice, tenant=acme)
    services.update_endpoint(membership, paused_endpoint, status="paused")
    workflows.create_workflow(acme, alice, "Old news")
    Event.objects.update(created_at=timezone.now() - timedelta(days=30))
    call_command("prune_events", "--older-than", "7d", stdout=open("/dev/null", "w"))
    assert Event.objects.filter(tenant_id=acme.pk, type="workflow.created").exists()  # the active one still needs it
    deliver_once()
    assert active.types() == ["workflow.created"]
    workflows.create_workflow(acme, alice, "Older news")
    Event.objects.update(created_at=timezone.now() - timedelta(days=30))
    # The active endpoint sent everything; the paused one holds nothing: the events go.
    deliver_once()
    call_command("prune_events", "--older-than", "7d", stdout=open("/dev/null", "w"))
    assert not Event.objects.filter(tenant_id=acme.pk).exists()
    services.update_endpoint(membership, paused_endpoint, status="active")
    workflows.create_workflow(acme, alice, "Fresh")
    deliver_once()
    assert paused.types() == ["replay.truncated", "workflow.created"]
    assert paused.received[1][1]["data"]["workflow"]["title"] == "Fresh"


def test_health_is_degraded_only_when_no_worker_takes_due_deliveries(alice, acme, receivers, settings):
    from datetime import timedelta

    from django.utils import timezone

    from project.health.checks import dependencies
    from project.webhooks.delivery import webhooks_health

    settings.BREAKER_FAILURE_THRESHOLD = 1
    settings.BREAKER_OPEN_SECONDS = 60
    dead = receivers()
    endpoint = register(alice, acme, dead)
    dead.stop()
    workflows.create_workflow(acme, alice, "Nobody listens")
    deliver_once()
    health = webhooks_health()
    # A tenant's dead receiver (its breaker open) is its owners' problem, not Harbor's health.
    assert (health["status"], health["failing"], health["open_breakers"]) == ("ok", 1, 1)
    assert endpoint.dependency not in dependencies()["breakers"] and dependencies()["status"] == "ok"
    Endpoint.objects.filter(pk=endpoint.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert webhooks_health()["status"] == "degraded" and webhooks_health()["overdue"] == 1


def test_an_open_circuit_sends_nothing_until_its_trial(alice, acme, receivers, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    settings.BREAKER_OPEN_SECONDS = 1.0
    receiver = receivers()
    receiver.push(500).push(503)
    endpoint = register(alice, acme, receiver)
    workflows.create_workflow(acme, alice, "Flaky")
    for _ in range(4):  # backoff is 0.05-0.2 s: without the breaker these would be attempts
        deliver_once()
        time.sleep(0.15)
    assert len(receiver.attempts) == 2 and receiver.received == []
    time.sleep(1.2)
    deliver_once()  # the trial goes out, succeeds and closes the circuit
    assert receiver.types() == ["workflow.created"]
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None

import json

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from project.realtime.models import Event
from project.realtime.services import publish

from ..conftest import run_manage
from .sockets import connect, open_ready_socket, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def login(client, user):
    client.force_login(user)
    return session_headers(client)


async def frames(communicator, count, timeout=3):
    return [json.loads(await communicator.receive_from(timeout=timeout)) for _ in range(count)]


async def test_an_event_published_by_another_process_reaches_the_socket(client, alice):
    """A worker or cron command in its own process publishes; the browser's socket gets it.
    Embedded mode: the server's dispatcher reads the log. Redis: the writer sends directly."""
    communicator = await open_ready_socket("/ws/user/", await login(client, alice))
    code = f"from project.realtime.services import publish; publish('user.{alice.pk}', 'custom.remote', {{'from': 'subprocess'}})"
    result = await database_sync_to_async(run_manage)("shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    [frame] = await frames(communicator, 1, timeout=5)
    assert frame["type"] == "custom.remote"
    assert frame["data"] == {"from": "subprocess"}
    assert frame["cursor"] == await database_sync_to_async(lambda: Event.objects.get(type="custom.remote").pk)()
    assert await communicator.receive_nothing(timeout=0.8)
    await communicator.disconnect()


async def test_reconnecting_after_a_cursor_replays_exactly_the_missed_events(client, alice, mallory):
    headers = await login(client, alice)
    communicator = await open_ready_socket("/ws/user/", headers)
    await communicator.disconnect()
    last_seen = await database_sync_to_async(publish)(f"user.{alice.pk}", "custom.seen", {})

    @database_sync_to_async
    def publish_while_away():
        missed = [publish(f"user.{alice.pk}", "custom.missed", {"n": n}).pk for n in range(3)]
        publish(f"user.{mallory.pk}", "custom.not_yours", {})
        return missed

    missed = await publish_while_away()
    communicator = await open_ready_socket_after(f"/ws/user/?after={last_seen.pk}", headers)
    replayed = await frames(communicator, 4)
    assert [f["cursor"] for f in replayed[:3]] == missed
    assert [f["data"]["n"] for f in replayed[:3]] == [0, 1, 2]
    assert replayed[3]["type"] == "ready"
    assert replayed[3]["data"]["cursor"] == missed[-1]
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def open_ready_socket_after(path, headers):
    """Like open_ready_socket, but the replayed frames come before `ready`: keep them queued."""
    return await connect(path, headers)


async def test_a_rolled_back_transaction_publishes_nothing(client, alice):
    communicator = await open_ready_socket("/ws/user/", await login(client, alice))

    @database_sync_to_async
    def publish_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(f"user.{alice.pk}", "custom.rolled_back", {})
            raise RuntimeError("the write failed")

    await publish_then_fail()
    assert await communicator.receive_nothing(timeout=1)
    assert not await database_sync_to_async(Event.objects.filter(type="custom.rolled_back").exists)()
    await communicator.disconnect()


async def test_a_transactions_events_arrive_together_in_order_without_a_rolled_back_savepoints(client, alice):
    """A transaction's events are handed on by one hook after its commit (a queue completion's
    and its notifications' together); a savepoint rolled back drops its own events only."""
    communicator = await open_ready_socket("/ws/user/", await login(client, alice))
    group = f"user.{alice.pk}"

    @database_sync_to_async
    def publish_around_a_failed_savepoint():
        with transaction.atomic():
            publish(group, "custom.first", {})
            with pytest.raises(RuntimeError), transaction.atomic():
                publish(group, "custom.rolled_back", {})
                raise RuntimeError("the inner write failed")
            with transaction.atomic(savepoint=False):  # as notify_many() publishes
                publish(group, "custom.second", {})
            publish(group, "custom.third", {})

    await publish_around_a_failed_savepoint()
    received = await frames(communicator, 3)
    assert [frame["type"] for frame in received] == ["custom.first", "custom.second", "custom.third"]
    assert [frame["cursor"] for frame in received] == sorted(frame["cursor"] for frame in received)
    assert await communicator.receive_nothing(timeout=0.8)
    assert not await database_sync_to_async(Event.objects.filter(type="custom.rolled_back").exists)()
    await communicator.disconnect()


def test_it_refuses_group_names_channels_cannot_route():
    for bad in ["workflow:1", "", "x" * 100, "user 1"]:
        with pytest.raises(ValueError):
            publish(bad, "custom.bad", {})
    assert not Event.objects.exists()


def test_prune_events_deletes_only_old_events():
    from datetime import timedelta

    from django.utils import timezone

    old = publish("user.1", "custom.old", {})
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    recent = publish("user.1", "custom.recent", {})
    result = run_manage("prune_events", "--older-than", "7d")
    assert result.returncode == 0, result.stderr
    assert "Deleted 1 events" in result.stdout
    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk]


def test_prune_events_rejects_a_bad_age():
    result = run_manage("prune_events", "--older-than", "seven days")
    assert result.returncode != 0
    assert "--older-than" in result.stderr

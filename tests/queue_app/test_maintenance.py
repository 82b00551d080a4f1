"""requeue_expired and prune: the services and their commands."""

from datetime import timedelta

import pytest
from django.utils import timezone

from queue_app import services
from queue_app.models import QueueMessage

from ..conftest import run_manage

pytestmark = pytest.mark.django_db


def answered(alice, worker="w1", text="q"):
    message = services.post_message(alice, text)
    claimed = services.claim_next(worker)
    services.complete(claimed.id, worker, claimed.claim_token, "a")
    return message


def expire(message_id):
    QueueMessage.objects.filter(pk=message_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_requeue_expired_counts_an_attempt_and_dead_letters_the_last(alice, settings):
    settings.QUEUE_MAX_ATTEMPTS = 2
    message = services.post_message(alice, "slow one")
    services.claim_next("w1")
    assert services.requeue_expired() == 0  # lease still running
    expire(message.pk)
    assert services.requeue_expired() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_by) == ("pending", 1, "w1")
    services.claim_next("w2")
    expire(message.pk)
    assert services.requeue_expired() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 2)


def test_requeue_expired_works_in_batches(alice):
    messages = [services.post_message(alice, f"m{i}") for i in range(7)]
    for _ in messages:
        services.claim_next("w1")
    QueueMessage.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.requeue_expired(batch_size=3) == 7
    assert set(QueueMessage.objects.values_list("status", flat=True)) == {"pending"}


def test_prune_keeps_the_newest_complete_and_never_pending_work(alice, acme):
    for i in range(4):
        answered(alice, text=f"q{i}")
    # Older than every complete message: retention must still leave them alone.
    old_pending = services.post_message(alice, "still waiting")
    QueueMessage.objects.filter(pk=old_pending.pk).update(timestamp=1)
    processing = services.post_message(alice, "being answered")
    QueueMessage.objects.filter(pk=processing.pk).update(timestamp=2, status="processing")
    tenant_message = services.post_message(alice, "acme", tenant_id=acme.pk)
    QueueMessage.objects.filter(pk=tenant_message.pk).update(status="complete")
    # 4 questions + 4 replies complete in the public stream; keep 3.
    assert services.prune(retention=3, batch_size=2) == 5
    public = QueueMessage.objects.filter(tenant=None)
    assert public.filter(status="complete").count() == 3
    assert set(public.exclude(status="complete").values_list("pk", flat=True)) == {old_pending.pk, processing.pk}
    assert QueueMessage.objects.filter(tenant=acme).count() == 1  # its own stream, under retention


@pytest.mark.django_db(transaction=True)
def test_the_commands_report_what_they_did(alice):
    message = services.post_message(alice, "slow one")
    services.claim_next("w1")
    expire(message.pk)
    result = run_manage("requeue_expired")
    assert result.returncode == 0, result.stderr
    assert "requeued 1" in result.stdout
    for _ in range(3):
        answered(alice)
    result = run_manage("prune_queue", "--keep", "2")
    assert result.returncode == 0, result.stderr
    assert "pruned 4" in result.stdout
    bad = run_manage("prune_queue", "--keep", "-1")
    assert bad.returncode != 0 and "--keep" in bad.stderr

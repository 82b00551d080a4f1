from datetime import timedelta

import pytest
from django.utils import timezone

from queue_app import services
from queue_app.models import QueueMessage


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root@example.com", "admin-pass-123")
    client.force_login(admin)
    return client


def dead_letter(alice, settings, text="doomed"):
    settings.QUEUE_MAX_ATTEMPTS = 1
    message = services.post_message(alice, text)
    claimed = services.claim_next("w1")
    return services.fail(message.pk, "w1", "provider exploded", claimed.claim_token)


@pytest.mark.django_db
def test_dead_letters_are_visible_in_admin_and_retried_by_its_action(staff_client, alice, settings):
    failed = dead_letter(alice, settings)
    services.post_message(alice, "still pending")
    page = staff_client.get("/admin/queue_app/queuemessage/?status__exact=failed").content.decode()
    assert failed.pk in page and "provider exploded" in page and "still pending" not in page
    assert staff_client.get("/admin/queue_app/queuemessage/add/").status_code == 403
    staff_client.post("/admin/queue_app/queuemessage/", {"action": "retry", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)


@pytest.mark.django_db(transaction=True)
def test_health_reports_pending_age_and_stale_claims(client, alice, settings):
    settings.HEALTH_TOKEN = "monitor"
    assert client.get("/health?token=monitor").json()["checks"]["queue"]["status"] == "ok"
    old = services.post_message(alice, "old")
    QueueMessage.objects.filter(pk=old.pk).update(timestamp=old.timestamp - 3_600_000)
    check = client.get("/health?token=monitor").json()["checks"]["queue"]
    assert check["status"] == "degraded" and check["pending"] == 1 and check["oldest_pending_age_s"] >= 3600
    services.claim_next("w1")
    QueueMessage.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=5))
    check = client.get("/health?token=monitor").json()["checks"]["queue"]
    assert check["stale_processing"] == 1 and check["pending"] == 0 and check["status"] == "degraded"
    response = client.get("/health")
    assert response.status_code == 200  # not required: degraded, never down

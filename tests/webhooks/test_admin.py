"""Staff read endpoints and their deliveries in Django admin, never a secret; nobody edits them there."""

import pytest

from project.accounts.models import User
from project.webhooks.models import Delivery
from subscriptions import crypto
from tests.conftest import PASSWORD

from .conftest import register

pytestmark = pytest.mark.django_db


def test_staff_read_endpoints_and_deliveries_without_their_secrets(client, alice, acme, receivers):
    endpoint = register(alice, acme, receivers())
    Delivery.objects.create(endpoint=endpoint, kind="event", status="failed", webhook_id="42",
                            event_type="workflow.created", response_status=500, response_excerpt="boom")
    User.objects.filter(pk=alice.pk).update(is_staff=True, is_superuser=True)
    client.login(email=alice.email, password=PASSWORD)
    for url in ("/admin/webhooks/endpoint/", f"/admin/webhooks/endpoint/{endpoint.pk}/change/",
                "/admin/webhooks/delivery/", f"/admin/webhooks/delivery/{Delivery.objects.get().pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert crypto.decrypt(endpoint.secret).encode() not in page.content
        assert endpoint.secret.encode() not in page.content
    assert client.get("/admin/webhooks/endpoint/add/").status_code == 403


def test_a_member_who_does_not_manage_the_tenant_gets_403_on_the_pages(client, alice, acme, bob):
    client.login(email=bob.email, password=PASSWORD)
    assert client.get(f"/tenants/{acme.pk}/webhooks/").status_code == 403


def test_the_detail_page_shows_the_delivery_log_and_its_buttons(client, alice, acme, receivers):
    endpoint = register(alice, acme, receivers())
    delivery = Delivery.objects.create(endpoint=endpoint, kind="event", status="failed", webhook_id="42",
                                       event_type="workflow.created", response_status=500, response_excerpt="boom",
                                       duration_ms=12, attempt=3)
    client.login(email=alice.email, password=PASSWORD)
    page = client.get(f"/tenants/{acme.pk}/webhooks/{endpoint.pk}/").content.decode()
    assert "boom" in page and "attempt 3" in page and "12 ms" in page
    assert f"/deliveries/{delivery.pk}/redeliver/" in page and "Send test event" in page
    # Its event is not in the log any more: the redelivery is refused, saying why.
    answer = client.post(f"/tenants/{acme.pk}/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/", follow=True)
    assert "no longer in the event log" in answer.content.decode()

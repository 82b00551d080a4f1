"""The webhooks API: owners and admins register endpoints (secret shown once), pause, resume,
rotate, send a test event, read the log and redeliver; members 403, other tenants 404."""

import pytest
from standardwebhooks.webhooks import Webhook

from project.webhooks.delivery import deliver_once
from project.webhooks.models import Endpoint
from subscriptions import crypto
from tests.conftest import bearer_client
from workflows import services as workflows

pytestmark = pytest.mark.django_db(transaction=True)


def url(tenant, *rest):
    return "/".join([f"/api/tenants/{tenant.pk}/webhooks", *rest])


def create(api, tenant, target, **body):
    response = api.post(url(tenant), {"url": target, **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_an_owner_registers_an_endpoint_and_sees_its_secret_once(alice_api, acme, receivers):
    receiver = receivers()
    made = create(alice_api, acme, receiver.url, event_types=["message.created", "custom.*"], description="CI")
    assert made["secret"].startswith("whsec_")
    endpoint = made["endpoint"]
    assert endpoint["status"] == "active" and endpoint["tenant_id"] == acme.pk
    assert endpoint["event_types"] == ["message.created", "custom.*"]
    stored = Endpoint.objects.get(pk=endpoint["id"])
    assert made["secret"] not in stored.secret and crypto.decrypt(stored.secret) == made["secret"]
    listed = alice_api.get(url(acme)).json()
    assert set(listed) == {"results", "next_cursor", "has_more"}
    assert [e["id"] for e in listed["results"]] == [endpoint["id"]]
    assert "secret" not in listed["results"][0]
    assert "secret" not in alice_api.get(url(acme, endpoint["id"])).json()


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/hook"}, "url"),
    ({"url": "https://user:pw@example.com/hook"}, "url"),
    ({"url": "https://example.com/hook", "event_types": ["access.changed"]}, "event_types"),
    ({"url": "https://example.com/hook", "event_types": ["notification.created"]}, "event_types"),
    ({"url": "https://example.com/hook", "event_types": "message.created"}, "event_types"),
    ({"url": "https://example.com/hook", "secret": "mine"}, "secret"),
    ({}, "url"),
])
def test_bad_input_is_a_400_naming_the_field(alice_api, acme, body, field):
    response = alice_api.post(url(acme), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_a_loopback_url_is_refused_without_the_setting(alice_api, acme, settings, receivers):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    response = alice_api.post(url(acme), {"url": receivers().url}, format="json")
    assert response.status_code == 400
    assert "private or reserved" in response.json()["error"]["fields"]["url"][0]


def test_plain_http_needs_the_setting(alice_api, acme, settings, receivers):
    settings.OUTBOUND_ALLOW_HTTP = False
    response = alice_api.post(url(acme), {"url": receivers().url}, format="json")
    assert response.status_code == 400 and "https://" in response.json()["error"]["fields"]["url"][0]


def test_members_get_403_and_other_tenants_404(alice_api, acme, bob, mallory_api, receivers):
    made = create(alice_api, acme, receivers().url)["endpoint"]
    bob_api = bearer_client(bob)
    assert bob_api.get(url(acme)).status_code == 403
    assert bob_api.post(url(acme), {"url": "https://example.com"}, format="json").status_code == 403
    assert mallory_api.get(url(acme)).status_code == 404
    assert mallory_api.get(url(acme, made["id"])).status_code == 404
    assert mallory_api.get(url(acme, made["id"], "deliveries")).status_code == 404


def test_pause_and_resume(alice_api, acme, receivers):
    endpoint = create(alice_api, acme, receivers().url)["endpoint"]
    paused = alice_api.patch(url(acme, endpoint["id"]), {"status": "paused"}, format="json")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert alice_api.patch(url(acme, endpoint["id"]), {"status": "disabled"}, format="json").status_code == 400
    assert alice_api.patch(url(acme, endpoint["id"]), {"status": "active"}, format="json").json()["status"] == "active"


def test_a_rotated_secret_and_the_previous_one_both_verify_for_a_while(alice, alice_api, acme, receivers):
    receiver = receivers()
    made = create(alice_api, acme, receiver.url)
    old = made["secret"]
    rotated = alice_api.post(url(acme, made["endpoint"]["id"], "rotate_secret"))
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["endpoint"]["previous_secret_expires_at"]
    receiver.secret = new
    workflows.create_workflow(acme, alice, "Rotated")
    deliver_once()
    headers, _ = receiver.received[0]
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2  # one per valid secret
    # The receiver still on the old secret verifies the same request.
    event_body = _body_of(receiver)
    Webhook(old).verify(event_body, headers)
    Webhook(new).verify(event_body, headers)


def _body_of(receiver):
    import json

    _, payload = receiver.received[0]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def test_test_events_and_redeliveries_reach_the_receiver_with_their_ids(alice, alice_api, acme, receivers):
    receiver = receivers()
    made = create(alice_api, acme, receiver.url)
    receiver.secret = made["secret"]
    endpoint_id = made["endpoint"]["id"]
    queued = alice_api.post(url(acme, endpoint_id, "test"))
    assert queued.status_code == 202 and queued.json()["status"] == "pending"
    workflows.create_workflow(acme, alice, "Logged")
    deliver_once()
    assert receiver.types() == ["webhook.test", "workflow.created"]
    log = alice_api.get(url(acme, endpoint_id, "deliveries")).json()
    assert [d["event_type"] for d in log["results"]] == ["workflow.created", "webhook.test"]  # newest first
    first = log["results"][0]
    assert first["status"] == "succeeded" and first["response_status"] == 200 and first["duration_ms"] is not None
    again = alice_api.post(url(acme, endpoint_id, "deliveries", first["id"], "redeliver"))
    assert again.status_code == 202
    deliver_once()
    assert receiver.ids()[-1] == first["webhook_id"] == first["event_id"]
    assert alice_api.post(url(acme, endpoint_id, "deliveries", "999999", "redeliver")).status_code == 404


def test_the_tenant_page_lists_and_registers_endpoints(client, alice, acme, receivers):
    from tests.conftest import PASSWORD

    client.login(email=alice.email, password=PASSWORD)
    page = client.get(f"/tenants/{acme.pk}/webhooks/")
    assert page.status_code == 200
    response = client.post(f"/tenants/{acme.pk}/webhooks/", {"url": receivers().url, "event_types": ["message.created"]})
    endpoint = Endpoint.objects.get(tenant=acme)
    assert response.status_code == 302 and response["Location"].endswith(f"/webhooks/{endpoint.pk}/")
    detail = client.get(response["Location"])
    assert crypto.decrypt(endpoint.secret).encode() in detail.content
    assert crypto.decrypt(endpoint.secret).encode() not in client.get(response["Location"]).content  # once
    assert client.post(f"/tenants/{acme.pk}/webhooks/", {"url": "ftp://x"}).status_code == 400
    assert client.post(f"/tenants/{acme.pk}/webhooks/{endpoint.pk}/test/").status_code == 302
    assert client.post(f"/tenants/{acme.pk}/webhooks/{endpoint.pk}/pause/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.status == "paused"


def test_prune_webhook_deliveries_deletes_old_log_rows_in_batches(alice, acme, receivers):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from project.webhooks.models import Delivery

    receiver = receivers()
    made = Endpoint.objects.get(pk=create(bearer_client(alice), acme, receiver.url)["endpoint"]["id"])
    Delivery.objects.bulk_create([Delivery(endpoint=made, kind="event", status="succeeded", webhook_id=str(n),
                                           event_type="workflow.created") for n in range(1500)])
    Delivery.objects.create(endpoint=made, kind="test", status="pending", webhook_id="t", event_type="webhook.test", payload={})
    Delivery.objects.update(created_at=timezone.now() - timedelta(days=40))
    import io

    out = io.StringIO()
    call_command("prune_webhook_deliveries", "--older-than", "30d", stdout=out)
    assert "Deleted 1500" in out.getvalue()
    assert list(Delivery.objects.values_list("status", flat=True)) == ["pending"]

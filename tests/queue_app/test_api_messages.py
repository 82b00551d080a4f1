"""GET/POST /api/queue/messages and GET /api/queue/messages/{id}: a stream in the one list
envelope, oldest first, polled with its `next_cursor`."""

import json

import pytest

from queue_app import services
from queue_app.models import QueueMessage

from .conftest import post

pytestmark = pytest.mark.django_db


def test_a_human_message_is_created_pending_and_returned_whole(alice_api):
    body = post(alice_api, "Is anyone there?", username="al", color="#12abEF", priority=3, entity="fear-and-loathing")
    message = QueueMessage.objects.get(pk=body["id"])
    assert body["status"] == "pending" and body["message_type"] == "human" and body["reply_to"] is None
    assert len(body["id"]) == 10 and body["id"].isalnum()
    assert (body["username"], body["color"], body["priority"], body["entity"]) == ("al", "#12abEF", 3, "fear-and-loathing")
    assert (message.username, message.color, message.priority, message.entity) == ("al", "#12abEF", 3, "fear-and-loathing")
    assert message.tenant_id is None and body["tenant_id"] is None and message.author.email == "alice@example.com"
    assert body["created_at"].endswith("Z") and "timestamp" not in body and "claim_token" not in body


def test_the_username_defaults_to_the_display_name(alice_api):
    assert post(alice_api)["username"] == "Alice"


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "hi", "color": "red"}, "color"),
        ({"text": "hi", "priority": 11}, "priority"),
        ({"text": "hi", "priority": -1}, "priority"),
        ({"text": "hi", "priority": "high"}, "priority"),
        ({"text": "hi", "entity": "Not An Entity!"}, "entity"),
        ({"text": "hi", "reply_to": "nosuchmsg0"}, "reply_to"),
        ({"text": "hi", "message_type": "robot"}, "message_type"),
        ({"text": "hi", "username": "u" * 101}, "username"),
        ({"text": "hi", "replyTo": "x"}, "replyTo"),
        ({}, "text"),
    ],
)
def test_it_names_the_bad_field(alice_api, fields, bad):
    response = alice_api.post("/api/queue/messages", fields, format="json")
    assert response.status_code == 400
    assert bad in response.json()["error"]["fields"]


def test_only_bots_post_ai_messages(alice_api, robot_api):
    assert alice_api.post("/api/queue/messages", {"text": "hi", "message_type": "ai"}, format="json").status_code == 403
    assert post(robot_api, "beep", message_type="ai")["status"] == "complete"


def test_anonymous_callers_are_refused(api_client):
    assert api_client.post("/api/queue/messages", {"text": "hi"}, format="json").status_code == 401
    assert api_client.get("/api/queue/messages").status_code == 401


def test_the_stream_lists_oldest_first_in_the_envelope_and_next_cursor_polls_for_more(alice_api):
    ids = [post(alice_api, f"m{i}")["id"] for i in range(5)]
    for offset, pk in enumerate(ids):  # distinct timestamps, as a real stream has
        QueueMessage.objects.filter(pk=pk).update(timestamp=1_000 + offset)
    page = alice_api.get("/api/queue/messages?limit=3").json()
    assert set(page) == {"results", "next_cursor", "has_more"} and page["has_more"] is True
    assert [m["id"] for m in page["results"]] == ids[:3]
    rest = alice_api.get(f"/api/queue/messages?limit=3&cursor={page['next_cursor']}").json()
    assert [m["id"] for m in rest["results"]] == ids[3:] and rest["has_more"] is False and rest["next_cursor"]
    assert alice_api.get(f"/api/queue/messages?cursor={rest['next_cursor']}").json()["results"] == []
    later = post(alice_api, "later")["id"]
    polled = alice_api.get(f"/api/queue/messages?cursor={rest['next_cursor']}").json()
    assert [m["id"] for m in polled["results"]] == [later]


def test_the_stream_filters_by_status_and_entity(alice_api, robot_api):
    post(alice_api, "one", entity="duke")
    gonzo = post(alice_api, "two", entity="gonzo")["id"]
    robot_api.post("/api/queue/claims", {"worker_id": "w1", "entity": "duke"}, format="json")
    pending = alice_api.get("/api/queue/messages?status=pending").json()["results"]
    assert [m["id"] for m in pending] == [gonzo]
    assert [m["id"] for m in alice_api.get("/api/queue/messages?entity=gonzo").json()["results"]] == [gonzo]


@pytest.mark.parametrize("query, bad", [("status=soon", "status"), ("limit=0", "limit"), ("limit=201", "limit"), ("cursor=nope", "cursor")])
def test_bad_queries_name_the_field(alice_api, query, bad):
    response = alice_api.get(f"/api/queue/messages?{query}")
    assert response.status_code == 400 and bad in response.json()["error"]["fields"]


def test_a_tenant_stream_is_for_its_members_only(alice_api, mallory_api, acme):
    inside = post(alice_api, "inside", tenant_id=acme.pk)
    outside = post(alice_api, "outside")
    assert inside["tenant_id"] == acme.pk
    assert [m["id"] for m in alice_api.get(f"/api/queue/messages?tenant_id={acme.pk}").json()["results"]] == [inside["id"]]
    assert [m["text"] for m in alice_api.get("/api/queue/messages").json()["results"]] == ["outside"]
    assert mallory_api.get(f"/api/queue/messages?tenant_id={acme.pk}").status_code == 404
    assert mallory_api.post("/api/queue/messages", {"text": "x", "tenant_id": acme.pk}, format="json").status_code == 404
    assert mallory_api.get(f"/api/queue/messages/{inside['id']}").status_code == 404
    assert mallory_api.get(f"/api/queue/messages/{outside['id']}").json() == outside


def test_a_reply_must_be_in_the_same_stream(alice_api, acme):
    public = post(alice_api, "public")
    response = alice_api.post("/api/queue/messages", {"text": "x", "tenant_id": acme.pk, "reply_to": public["id"]}, format="json")
    assert response.status_code == 400 and "reply_to" in response.json()["error"]["fields"]
    assert post(alice_api, "follow-up", reply_to=public["id"])["reply_to"] == public["id"]


def test_posting_publishes_one_event_with_the_rest_shape(alice_api, django_capture_on_commit_callbacks):
    from project.realtime.models import Event

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = post(alice_api, "live")
    assert len(callbacks) == 1
    event = Event.objects.get()
    assert (event.group, event.type) == ("queue.public", "queue_message.created")
    assert json.loads(json.dumps(event.data)) == {"message": body}


def test_services_errors_name_model_fields(alice):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.post_message(alice, "hi", message_type="robot", reply_to="nosuchmsg0")
    assert list(refused.value.message_dict) == ["message_type"]
    with pytest.raises(ValidationError) as refused:
        services.claim_next("bad worker", lease_seconds=0)
    assert list(refused.value.message_dict) == ["claimed_by"]

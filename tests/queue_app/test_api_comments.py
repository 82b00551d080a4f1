import pytest

from queue_app.models import QueueMessage

from .conftest import post

pytestmark = pytest.mark.django_db


def test_a_human_message_is_created_pending(alice_api):
    body = post(alice_api, "Is anyone there?", username="al", color="#12abEF", priority=3, entity="fear-and-loathing")
    assert set(body) == {"id", "timestamp", "status"} and body["status"] == "pending"
    assert len(body["id"]) == 10 and body["id"].isalnum()
    message = QueueMessage.objects.get(pk=body["id"])
    assert (message.username, message.color, message.priority, message.entity) == ("al", "#12abEF", 3, "fear-and-loathing")
    assert message.tenant_id is None and message.author.email == "alice@example.com"


def test_the_username_defaults_to_the_display_name(alice_api):
    body = post(alice_api)
    assert QueueMessage.objects.get(pk=body["id"]).username == "Alice"


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
        ({"text": "hi", "replyTo": "nosuchmsg0"}, "replyTo"),
        ({"text": "hi", "messageType": "robot"}, "messageType"),
        ({"text": "hi", "username": "u" * 101}, "username"),
        ({}, "text"),
    ],
)
def test_it_names_the_bad_field(alice_api, fields, bad):
    response = alice_api.post("/api/comments", fields, format="json")
    assert response.status_code == 400
    assert bad in response.json()["error"]["fields"]


def test_only_bots_post_ai_messages(alice_api, robot_api):
    assert alice_api.post("/api/comments", {"text": "hi", "messageType": "ai"}, format="json").status_code == 403
    body = post(robot_api, "beep", messageType="ai")
    assert body["status"] == "complete"


def test_anonymous_callers_are_refused(api_client):
    assert api_client.post("/api/comments", {"text": "hi"}, format="json").status_code == 401
    assert api_client.get("/api/comments").status_code == 401


def test_since_returns_newer_messages_oldest_first_capped(alice_api):
    ids = [post(alice_api, f"m{i}")["id"] for i in range(5)]
    first = QueueMessage.objects.get(pk=ids[0]).timestamp
    QueueMessage.objects.filter(pk__in=ids).update(timestamp=0)  # spread them out deterministically
    for offset, pk in enumerate(ids):
        QueueMessage.objects.filter(pk=pk).update(timestamp=first + offset)
    page = alice_api.get(f"/api/comments?since={first}&limit=3").json()
    assert [m["id"] for m in page["results"]] == ids[1:4]
    assert page["cursor"] == first + 3
    assert alice_api.get(f"/api/comments?since={first + 4}").json() == {"results": [], "cursor": first + 4}
    assert [m["id"] for m in alice_api.get("/api/comments?limit=2").json()["results"]] == ids[3:]


@pytest.mark.parametrize("query, bad", [("since=-1", "since"), ("since=soon", "since"), ("limit=0", "limit"), ("limit=201", "limit")])
def test_bad_queries_name_the_field(alice_api, query, bad):
    response = alice_api.get(f"/api/comments?{query}")
    assert response.status_code == 400 and bad in response.json()["error"]["fields"]


def test_a_tenant_stream_is_for_its_members_only(alice_api, mallory_api, acme):
    body = post(alice_api, "inside", tenantId=acme.pk)
    post(alice_api, "outside")
    inside = alice_api.get(f"/api/comments?tenantId={acme.pk}").json()["results"]
    assert [m["id"] for m in inside] == [body["id"]]
    assert [m["text"] for m in alice_api.get("/api/comments").json()["results"]] == ["outside"]
    assert mallory_api.get(f"/api/comments?tenantId={acme.pk}").status_code == 404
    assert mallory_api.post("/api/comments", {"text": "x", "tenantId": acme.pk}, format="json").status_code == 404


def test_a_reply_must_be_in_the_same_stream(alice_api, acme):
    public = post(alice_api, "public")
    response = alice_api.post("/api/comments", {"text": "x", "tenantId": acme.pk, "replyTo": public["id"]}, format="json")
    assert response.status_code == 400 and "replyTo" in response.json()["error"]["fields"]
    assert post(alice_api, "follow-up", replyTo=public["id"])["status"] == "pending"


def test_posting_publishes_one_event_to_the_stream(alice_api, django_capture_on_commit_callbacks):
    from project.realtime.models import Event

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = post(alice_api, "live")
    assert len(callbacks) == 1
    event = Event.objects.get()
    assert (event.group, event.type) == ("queue.public", "queue.message.created")
    assert event.data["message"]["id"] == body["id"] and "claimToken" not in event.data["message"]

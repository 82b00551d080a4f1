"""The claim lifecycle over the API, and every 409."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from queue_app import services
from queue_app.models import QueueMessage

from ..conftest import bearer_client
from .conftest import act, claim, claim_next, post

pytestmark = pytest.mark.django_db


def complete(client, claimed, worker="w1", **fields):
    return act(client, "complete", claimed, worker, **fields)


def test_the_whole_lifecycle(alice_api, robot_api):
    asked = post(alice_api, "What is the answer?", entity="oracle")
    response = claim_next(robot_api, "w1", entity="oracle", lease_seconds=30)
    assert response.status_code == 201
    claimed = response.json()
    assert claimed["id"] == asked["id"] and claimed["status"] == "processing" and claimed["claimed_by"] == "w1"
    assert claimed["claim_token"] and claimed["thread"] == [] and claimed["lease_expires_at"]
    done = complete(robot_api, claimed, reply="42").json()
    assert done["message"]["status"] == "complete" and done["next"] is None
    reply = done["reply"]
    assert (reply["text"], reply["message_type"], reply["status"], reply["reply_to"]) == ("42", "ai", "complete", asked["id"])
    assert reply["username"] == "oracle"
    stream = alice_api.get("/api/queue/messages").json()["results"]
    assert [(m["text"], m["status"]) for m in stream] == [("What is the answer?", "complete"), ("42", "complete")]
    assert "claim_token" not in stream[0]


def test_a_reply_without_a_name_or_entity_shows_the_bot_name_not_the_worker_id(alice_api, robot_api, alice):
    post(alice_api, "Anyone?")
    claimed = claim_next(robot_api, "vm:10645:0").json()
    reply = complete(robot_api, claimed, worker="vm:10645:0", reply="Yes").json()["reply"]
    assert reply["username"] == "Harbor bot"
    assert alice.notifications.get().title == "Harbor bot replied to your message"


def test_claim_next_takes_priority_then_age_and_answers_204_when_empty(alice_api, robot_api):
    low = post(alice_api, "low")
    high = post(alice_api, "high", priority=9)
    later_high = post(alice_api, "later high", priority=9)
    assert [claim_next(robot_api).json()["id"] for _ in range(3)] == [high["id"], later_high["id"], low["id"]]
    assert claim_next(robot_api).status_code == 204


def test_claim_next_only_takes_the_workers_entities(alice_api, robot_api):
    post(alice_api, "for duke", entity="duke")
    gonzo = post(alice_api, "for gonzo", entity="gonzo")
    assert claim_next(robot_api, entities=["gonzo"]).json()["id"] == gonzo["id"]
    assert claim_next(robot_api, entity="gonzo").status_code == 204


def test_a_claim_shows_the_thread_it_answers(alice_api, robot_api):
    first = post(alice_api, "first")
    claimed = claim_next(robot_api).json()
    reply = complete(robot_api, claimed, reply="answer one").json()["reply"]
    post(alice_api, "follow-up", reply_to=reply["id"])
    thread = claim_next(robot_api).json()["thread"]
    assert thread == [{"id": first["id"], "text": "first", "username": "Alice", "message_type": "human"},
                      {"id": reply["id"], "text": "answer one", "username": "Harbor bot", "message_type": "ai"}]


def test_a_second_claim_of_the_same_message_is_a_conflict(alice_api, robot_api, rival):
    from ..conftest import bearer_client

    asked = post(alice_api)
    assert claim(robot_api, asked["id"]).status_code == 201
    response = claim(bearer_client(rival), asked["id"], "w2")
    assert response.status_code == 409 and "processing" in response.json()["error"]["message"]


def test_claiming_a_complete_or_an_ai_message_is_a_conflict(alice_api, robot_api):
    asked = post(alice_api)
    reply = complete(robot_api, claim_next(robot_api).json(), reply="r").json()["reply"]
    for pk in (asked["id"], reply["id"]):
        assert claim(robot_api, pk).status_code == 409


def test_claiming_an_unknown_message_is_404(robot_api):
    assert claim(robot_api, "nosuchmsg0").status_code == 404


def test_completing_with_a_wrong_token_or_worker_is_a_conflict(alice_api, robot_api):
    post(alice_api)
    claimed = claim_next(robot_api).json()
    assert complete(robot_api, {**claimed, "claim_token": "forged"}, reply="x").status_code == 409
    assert complete(robot_api, claimed, worker="w2", reply="x").status_code == 409
    assert complete(robot_api, claimed, reply="x").status_code == 200


def test_a_worker_whose_lease_expired_cannot_overwrite_the_new_owner(alice_api, robot_api):
    post(alice_api)
    old = claim_next(robot_api, "slow").json()
    QueueMessage.objects.filter(pk=old["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.requeue_expired() == 1
    new = claim_next(robot_api, "fast").json()
    assert new["id"] == old["id"] and new["attempts"] == 1
    response = complete(robot_api, old, worker="slow", reply="stale answer")
    assert response.status_code == 409
    assert complete(robot_api, new, worker="fast", reply="fresh answer").status_code == 200
    assert list(QueueMessage.objects.filter(message_type="ai").values_list("text", flat=True)) == ["fresh answer"]


def test_complete_is_idempotent_on_the_claim_token(alice_api, robot_api):
    post(alice_api)
    claimed = claim_next(robot_api).json()
    first = complete(robot_api, claimed, reply="once").json()
    again = complete(robot_api, claimed, reply="once", next=True)
    assert again.status_code == 200
    assert again.json()["reply"]["id"] == first["reply"]["id"] and again.json()["next"] is None
    assert QueueMessage.objects.filter(message_type="ai").count() == 1


def test_complete_with_next_claims_the_following_message(alice_api, robot_api):
    post(alice_api, "one")
    two = post(alice_api, "two")
    claimed = claim_next(robot_api).json()
    body = complete(robot_api, claimed, reply="r1", next=True).json()
    assert body["next"]["id"] == two["id"] and body["next"]["claim_token"] and body["next"]["status"] == "processing"
    assert complete(robot_api, body["next"], reply="r2", next=True).json()["next"] is None


def test_fail_backs_off_then_becomes_a_dead_letter(alice_api, robot_api, staff_api, settings):
    settings.QUEUE_MAX_ATTEMPTS = 2
    settings.QUEUE_RETRY_BASE_SECONDS = 60
    asked = post(alice_api)
    claimed = claim_next(robot_api).json()
    failed = act(robot_api, "fail", claimed, error="provider down").json()
    assert (failed["status"], failed["attempts"], failed["last_error"]) == ("pending", 1, "provider down")
    assert claim_next(robot_api).status_code == 204  # backing off
    assert claim(robot_api, asked["id"]).status_code == 409
    QueueMessage.objects.filter(pk=asked["id"]).update(available_at=timezone.now())
    claimed = claim_next(robot_api).json()
    dead = act(robot_api, "fail", claimed, error="provider down").json()
    assert (dead["status"], dead["attempts"]) == ("failed", 2)
    retry = f"/api/queue/messages/{asked['id']}/retry"
    assert robot_api.post(retry).status_code == 403
    retried = staff_api.post(retry).json()
    assert (retried["status"], retried["attempts"]) == ("pending", 0)
    assert staff_api.post(retry).status_code == 409
    assert staff_api.post("/api/queue/messages/nosuchmsg0/retry").status_code == 404


def test_failing_a_message_one_does_not_hold_is_a_conflict(alice_api, robot_api):
    asked = post(alice_api)
    assert act(robot_api, "fail", {"id": asked["id"], "claim_token": "forged"}, error="x").status_code == 409
    claimed = claim_next(robot_api, "w1").json()
    assert act(robot_api, "fail", claimed, "w2", error="x").status_code == 409
    assert act(robot_api, "fail", {**claimed, "claim_token": "forged"}, error="x").status_code == 409
    assert act(robot_api, "fail", claimed, error="x").status_code == 200


def test_another_bot_cannot_fail_a_claim_without_its_token(alice_api, robot_api, rival):
    """Worker ids are public (claimed_by in the stream): only the claim token proves the claim."""
    post(alice_api)
    claimed = claim_next(robot_api, "bot1").json()
    assert alice_api.get("/api/queue/messages").json()["results"][0]["claimed_by"] == "bot1"

    body = {"worker_id": "bot1", "error": "sabotage"}
    response = bearer_client(rival).post(f"/api/queue/messages/{claimed['id']}/fail", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["claim_token"]
    message = QueueMessage.objects.get(pk=claimed["id"])
    assert (message.status, message.claimed_by, message.attempts, message.last_error) == ("processing", "bot1", 0, "")
    assert complete(robot_api, claimed, worker="bot1", reply="mine").status_code == 200


def test_failing_with_the_token_of_an_expired_claim_is_a_conflict_as_completing_is(alice_api, robot_api):
    post(alice_api)
    old = claim_next(robot_api, "w1").json()
    QueueMessage.objects.filter(pk=old["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.requeue_expired() == 1
    new = claim_next(robot_api, "w1").json()

    assert act(robot_api, "fail", old, error="late").status_code == 409
    assert complete(robot_api, old, reply="late").status_code == 409
    message = QueueMessage.objects.get(pk=old["id"])
    assert (message.status, message.claim_token, message.attempts) == ("processing", new["claim_token"], 1)


def test_the_service_refuses_a_failure_without_the_token(alice_api, robot_api):
    post(alice_api)
    claimed = claim_next(robot_api, "w1").json()

    with pytest.raises(TypeError):
        services.fail(claimed["id"], "w1", "no token")
    for missing in (None, ""):
        with pytest.raises(ValidationError) as refused:
            services.fail(claimed["id"], "w1", "no token", missing)
        assert list(refused.value.message_dict) == ["claim_token"]
    assert QueueMessage.objects.get(pk=claimed["id"]).status == "processing"


def test_heartbeat_extends_the_lease_of_the_holder_only(alice_api, robot_api):
    post(alice_api)
    claimed = claim_next(robot_api, lease_seconds=5).json()
    extended = act(robot_api, "heartbeat", claimed, lease_seconds=120).json()
    assert extended["lease_expires_at"] > claimed["lease_expires_at"]
    assert act(robot_api, "heartbeat", {**claimed, "claim_token": "forged"}).status_code == 409
    complete(robot_api, claimed, reply="done")
    assert act(robot_api, "heartbeat", claimed).status_code == 409


def test_release_hands_a_claim_back_without_counting_an_attempt(alice_api, robot_api):
    post(alice_api)
    claimed = claim_next(robot_api).json()
    released = act(robot_api, "release", claimed).json()
    assert (released["status"], released["attempts"], released["claimed_by"]) == ("pending", 0, "")
    assert act(robot_api, "release", claimed).status_code == 409


@pytest.mark.parametrize(
    "path, body, bad",
    [
        ("/api/queue/claims", {"message_id": "x"}, "worker_id"),
        ("/api/queue/claims", {"worker_id": "bad worker id"}, "worker_id"),
        ("/api/queue/claims", {"worker_id": "w1", "lease_seconds": 0}, "lease_seconds"),
        ("/api/queue/claims", {"worker_id": "w1", "lease_seconds": 100000}, "lease_seconds"),
        ("/api/queue/claims", {"worker_id": "w1", "entities": ["Not Valid"]}, "entities"),
        ("/api/queue/claims", {"worker_id": "w1", "message_id": "x", "entity": "duke"}, "message_id"),
        ("/api/queue/claims", {"worker_id": "w1", "workerId": "w1"}, "workerId"),
        ("/api/queue/messages/x/complete", {"worker_id": "w1"}, "claim_token"),
        ("/api/queue/messages/x/complete", {"worker_id": "w1", "claim_token": "t", "reply": ""}, "reply"),
        ("/api/queue/messages/x/fail", {"worker_id": "w1", "claim_token": "t"}, "error"),
        ("/api/queue/messages/x/fail", {"worker_id": "w1", "claim_token": "t", "error": "  "}, "error"),
        ("/api/queue/messages/x/fail", {"worker_id": "w1", "error": "e"}, "claim_token"),
        ("/api/queue/messages/x/release", {"claim_token": "t"}, "worker_id"),
        ("/api/queue/messages/x/heartbeat", {"worker_id": "w1", "claim_token": "t", "lease_seconds": -1}, "lease_seconds"),
    ],
)
def test_worker_endpoints_name_the_bad_field(robot_api, path, body, bad):
    response = robot_api.post(path, body, format="json")
    assert response.status_code == 400 and bad in response.json()["error"]["fields"], response.json()


def test_a_bad_reply_is_a_400_and_leaves_the_claim_held(alice_api, robot_api):
    post(alice_api)
    claimed = claim_next(robot_api).json()
    response = complete(robot_api, claimed, reply="x" * 2001)
    assert response.status_code == 400 and "reply" in response.json()["error"]["fields"]
    assert QueueMessage.objects.get(pk=claimed["id"]).status == "processing"


@pytest.mark.parametrize("path", ["/api/queue/claims", "/api/queue/messages/x/complete", "/api/queue/messages/x/fail",
                                  "/api/queue/messages/x/release", "/api/queue/messages/x/heartbeat"])
def test_humans_cannot_work_the_queue(alice_api, path):
    assert alice_api.post(path, {"worker_id": "w1"}, format="json").status_code == 403


def test_staff_may_work_the_queue_without_the_permission(alice_api, staff_api):
    post(alice_api)
    assert claim_next(staff_api).status_code == 201


def test_a_bot_by_group_works_the_queue(alice_api, mallory):
    from django.contrib.auth.models import Group, Permission

    from ..conftest import bearer_client

    bots = Group.objects.create(name="Bots")
    bots.permissions.add(Permission.objects.get(codename="work_queue"))
    mallory.groups.add(bots)
    post(alice_api)
    assert claim_next(bearer_client(mallory)).status_code == 201


def test_a_bot_whose_permission_is_taken_away_is_refused_at_its_next_request(alice_api, mallory):
    """The token's statement reads the caller's permissions on every request: taking the
    permission (or the group that gives it) away refuses the same token at once."""
    from django.contrib.auth.models import Group, Permission

    from ..conftest import bearer_client

    work_queue = Permission.objects.get(codename="work_queue")
    bots = Group.objects.create(name="Bots")
    bots.permissions.add(work_queue)
    mallory.groups.add(bots)
    mallory.user_permissions.add(work_queue)
    client = bearer_client(mallory)
    post(alice_api)
    post(alice_api)
    assert claim_next(client).status_code == 201
    mallory.user_permissions.remove(work_queue)
    assert claim_next(client).status_code == 201  # still in the group
    bots.permissions.remove(work_queue)
    assert claim_next(client).status_code == 403


def test_the_author_is_notified_of_the_reply(alice_api, robot_api, alice):
    from notifications.models import Notification

    asked = post(alice_api, "Ping?")
    complete(robot_api, claim_next(robot_api).json(), reply="Pong.")
    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind) == (alice, "queue.reply")
    assert notification.body == "Pong." and notification.link == f"/queue/#m-{asked['id']}"
    assert notification.payload == {"message_id": asked["id"], "reply_id": QueueMessage.objects.get(message_type="ai").pk}

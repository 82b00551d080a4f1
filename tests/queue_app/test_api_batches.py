"""Batches: claim up to N in one request, complete / fail / release a list of claims in one,
each claim with its own result."""

import pytest

from notifications.models import Notification
from project.realtime.models import Event
from queue_app.models import QueueMessage

from ..conftest import bearer_client
from .conftest import claim_next, post

pytestmark = pytest.mark.django_db


def claim_many(client, limit, worker="w1", **fields):
    response = client.post("/api/queue/claims", {"worker_id": worker, "limit": limit, **fields}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def held(claimed, **fields):
    return [{"id": c["id"], "claim_token": c["claim_token"], **fields} for c in claimed]


def test_it_claims_up_to_the_limit_best_first_each_under_its_own_token(alice_api, robot_api):
    low = post(alice_api, "low")
    high = post(alice_api, "high", priority=9)
    middle = post(alice_api, "middle", priority=5)
    page = claim_many(robot_api, 2)
    assert [c["id"] for c in page["results"]] == [high["id"], middle["id"]]
    assert page["has_more"] is True and page["next_cursor"] is None
    tokens = [c["claim_token"] for c in page["results"]]
    assert len(set(tokens)) == 2 and all(c["status"] == "processing" and c["thread"] == [] for c in page["results"])
    rest = claim_many(robot_api, 40)
    assert [c["id"] for c in rest["results"]] == [low["id"]] and rest["has_more"] is False
    assert claim_many(robot_api, 5) == {"results": [], "next_cursor": None, "has_more": False}
    assert Event.objects.filter(type="queue_message.claimed").count() == 3


def test_a_batch_claim_carries_each_thread(alice_api, robot_api):
    root = post(alice_api, "root")
    [first] = claim_many(robot_api, 1)["results"]
    reply = robot_api.post("/api/queue/completions", {"worker_id": "w1", "claims": held([first], reply="answer")},
                           format="json").json()["completed"]["results"][0]["reply"]
    post(alice_api, "follow-up", reply_to=reply["id"])
    post(alice_api, "unrelated")
    threads = {c["text"]: [m["text"] for m in c["thread"]] for c in claim_many(robot_api, 10)["results"]}
    assert threads == {"follow-up": ["root", "answer"], "unrelated": []}
    assert root["id"]


def test_it_completes_a_batch_with_replies_events_and_notifications_and_claims_more(
    alice_api, robot_api, alice, django_capture_on_commit_callbacks
):
    asked = [post(alice_api, f"q{n}") for n in range(4)]
    claimed = claim_many(robot_api, 2)["results"]
    with django_capture_on_commit_callbacks(execute=True):
        response = robot_api.post(
            "/api/queue/completions",
            {"worker_id": "w1", "claims": held(claimed, reply="done"), "next": 5},
            format="json",
        )
    body = response.json()
    assert response.status_code == 200
    results = body["completed"]["results"]
    assert [(r["id"], r["status"], r["error"]) for r in results] == [(c["id"], 200, None) for c in claimed]
    assert all(r["message"]["status"] == "complete" and r["reply"]["text"] == "done" for r in results)
    assert sorted(c["id"] for c in body["next"]["results"]) == sorted(a["id"] for a in asked[2:])
    assert body["next"]["has_more"] is False
    assert QueueMessage.objects.filter(message_type="ai").count() == 2
    assert Event.objects.filter(type="queue_message.answered").count() == 2
    assert Notification.objects.filter(recipient=alice, kind="queue.reply").count() == 2
    unread = sorted(Event.objects.filter(type="notification.created").values_list("data__unread", flat=True))
    assert unread == [1, 2]


def test_a_stale_claim_is_that_items_error_not_the_batchs(alice_api, robot_api):
    post(alice_api, "a")
    post(alice_api, "b")
    first, second = claim_many(robot_api, 2)["results"]
    stale = {"id": second["id"], "claim_token": "not-the-token", "reply": "late"}
    unknown = {"id": "nosuchmsg", "claim_token": "t", "reply": "x"}
    body = robot_api.post(
        "/api/queue/completions",
        {"worker_id": "w1", "claims": [*held([first], reply="ok"), stale, unknown]},
        format="json",
    ).json()["completed"]
    statuses = [(r["status"], r["error"] and r["error"]["code"]) for r in body["results"]]
    assert statuses == [(200, None), (409, "conflict"), (404, "not_found")]
    assert QueueMessage.objects.get(pk=second["id"]).status == "processing"
    assert QueueMessage.objects.filter(message_type="ai").count() == 1


def test_completing_a_batch_again_returns_the_same_replies_and_claims_nothing_more(alice_api, robot_api):
    for n in range(3):
        post(alice_api, f"q{n}")
    claimed = claim_many(robot_api, 2)["results"]
    body = {"worker_id": "w1", "claims": held(claimed, reply="same"), "next": 1}
    first = robot_api.post("/api/queue/completions", body, format="json").json()
    again = robot_api.post("/api/queue/completions", body, format="json").json()
    assert [r["reply"]["id"] for r in again["completed"]["results"]] == [r["reply"]["id"] for r in first["completed"]["results"]]
    assert len(first["next"]["results"]) == 1 and again["next"]["results"] == []
    assert QueueMessage.objects.filter(message_type="ai").count() == 2


def test_it_fails_and_releases_batches(alice_api, robot_api, settings):
    settings.QUEUE_MAX_ATTEMPTS = 2
    for n in range(4):
        post(alice_api, f"q{n}")
    claimed = claim_many(robot_api, 4)["results"]
    failed = robot_api.post("/api/queue/failures", {"worker_id": "w1", "claims": held(claimed[:2], error="boom")},
                            format="json").json()
    assert [(r["status"], r["message"]["status"], r["message"]["attempts"], r["message"]["last_error"])
            for r in failed["results"]] == [(200, "pending", 1, "boom")] * 2
    assert all(r["message"]["available_at"] > r["message"]["claimed_at"] for r in failed["results"])
    released = robot_api.post("/api/queue/releases", {"worker_id": "w1", "claims": held(claimed[2:])}, format="json").json()
    assert [(r["status"], r["message"]["status"], r["message"]["attempts"]) for r in released["results"]] == [(200, "pending", 0)] * 2
    again = robot_api.post("/api/queue/releases", {"worker_id": "w1", "claims": held(claimed[2:])}, format="json").json()
    assert [r["status"] for r in again["results"]] == [409, 409]
    assert Event.objects.filter(type="queue_message.failed").count() == 2
    assert Event.objects.filter(type="queue_message.released").count() == 2


def test_the_last_attempt_of_a_batch_failure_makes_a_dead_letter(alice_api, robot_api, settings):
    settings.QUEUE_MAX_ATTEMPTS = 1
    post(alice_api, "q")
    claimed = claim_many(robot_api, 1)["results"]
    [result] = robot_api.post("/api/queue/failures", {"worker_id": "w1", "claims": held(claimed, error="x")},
                              format="json").json()["results"]
    assert (result["message"]["status"], result["message"]["attempts"]) == ("failed", 1)


def test_another_worker_cannot_complete_a_batch_it_does_not_hold(alice_api, robot_api):
    post(alice_api, "q")
    claimed = claim_many(robot_api, 1, worker="w1")["results"]
    body = robot_api.post("/api/queue/completions", {"worker_id": "w2", "claims": held(claimed, reply="mine")},
                          format="json").json()["completed"]
    assert body["results"][0]["status"] == 409


def test_another_bot_cannot_fail_or_release_a_batch_with_the_public_worker_id_alone(alice_api, robot_api, rival):
    """As /api/queue/fail: worker ids are public (claimedBy in the stream), the claim token is not."""
    post(alice_api, "q")
    [claimed] = claim_many(robot_api, 1, worker="bot1")["results"]
    rival_api = bearer_client(rival)
    for path, extra in [("/api/queue/failures", {"error": "sabotage"}), ("/api/queue/releases", {})]:
        missing = rival_api.post(path, {"worker_id": "bot1", "claims": [{"id": claimed["id"], **extra}]}, format="json")
        assert missing.status_code == 400, missing.json()
        assert missing.json()["error"]["fields"] == {"claims": {"0": {"claim_token": ["This field is required."]}}}
        forged = {"worker_id": "bot1", "claims": [{"id": claimed["id"], "claim_token": "guessed", **extra}]}
        assert [r["status"] for r in rival_api.post(path, forged, format="json").json()["results"]] == [409]
    message = QueueMessage.objects.get(pk=claimed["id"])
    assert (message.status, message.claimed_by, message.attempts, message.last_error) == ("processing", "bot1", 0, "")


@pytest.mark.parametrize(
    "path, body, bad",
    [
        ("/api/queue/claims", {"worker_id": "w1", "limit": 0}, "limit"),
        ("/api/queue/claims", {"worker_id": "w1", "limit": 41}, "limit"),
        ("/api/queue/claims", {"worker_id": "w1", "limit": "5"}, "limit"),
        ("/api/queue/claims", {"worker_id": "w1", "limit": 2, "message_id": "x"}, "limit"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": []}, "claims"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": [{"id": "a", "claim_token": "t"}] * 2}, "claims"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": [{"id": f"m{n}", "claim_token": "t"} for n in range(41)]}, "claims"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": [{"id": "a", "claim_token": "t", "reply": ""}]}, "claims"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": [{"id": "a", "claim_token": "t", "extra": 1}]}, "claims"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": [{"id": "a"}]}, "claims"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": [{"id": "a", "claim_token": "t"}], "next": 41}, "next"),
        ("/api/queue/completions", {"worker_id": "w1", "claims": {"id": "a"}}, "claims"),
        ("/api/queue/completions", {"claims": [{"id": "a", "claim_token": "t"}]}, "worker_id"),
        ("/api/queue/failures", {"worker_id": "w1", "claims": [{"id": "a", "claim_token": "t"}]}, "claims"),
        ("/api/queue/failures", {"worker_id": "w1", "claims": [{"id": "a", "claim_token": "t", "error": " "}]}, "claims"),
        ("/api/queue/releases", {"worker_id": "w1", "claims": ["a"]}, "claims"),
    ],
)
def test_batch_endpoints_name_the_bad_field(robot_api, path, body, bad):
    response = robot_api.post(path, body, format="json")
    assert response.status_code == 400 and bad in response.json()["error"]["fields"], response.json()


@pytest.mark.parametrize("path", ["/api/queue/completions", "/api/queue/failures", "/api/queue/releases"])
def test_humans_cannot_hand_in_batches(alice_api, path):
    assert alice_api.post(path, {"worker_id": "w1", "claims": []}, format="json").status_code == 403


def test_a_single_claim_is_still_one_message_and_204_when_empty(alice_api, robot_api):
    assert claim_next(robot_api).status_code == 204
    post(alice_api)
    assert claim_next(robot_api).json()["status"] == "processing"

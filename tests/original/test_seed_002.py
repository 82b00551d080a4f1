"""Seed 002 (../shared/seeds/002_*.txt, "saywhatwant"): its frontend and its bot, replayed with
the seed's exact bodies and the only change such a client makes, a bearer token, get the
seed's answers; and the seed's "30/30" run through the original routes, with real HTTP."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from project.accounts import services as accounts
from project.realtime.models import Event
from queue_app import services
from queue_app.models import QueueMessage

from ..conftest import PASSWORD, bearer_client, http_json

#: The seed's own message (section "1. Human Posts Message"), as its frontend sends it.
HUMAN = {
    "text": "Why is space black?",
    "username": "Human",
    "color": "169080199",
    "messageType": "human",
    "replyTo": None,
    "botParams": {"status": "pending", "priority": 5, "entity": "fear-and-loathing"},
}


def ai_reply(message_id: str) -> dict:
    """What the seed's bot posts (section "5. PM2 Posts AI Response")."""
    return {
        "text": "Because the universe is expanding and most of its light never reaches us.",
        "username": "FearAndLoathing",
        "color": "080169199",
        "messageType": "AI",
        "replyTo": message_id,
        "botParams": {"status": "complete", "priority": 5, "entity": "fear-and-loathing"},
    }


@pytest.fixture
def frontend(alice):
    return bearer_client(alice)


@pytest.fixture
def bot(db):
    return bearer_client(services.make_bot(accounts.register_user("pm2@example.com", PASSWORD, display_name="PM2")))


@pytest.mark.django_db
def test_the_seeds_documented_flow_gets_the_seeds_answers(frontend, bot):
    before = int(time.time() * 1000) - 1
    created = frontend.post("/api/comments", HUMAN, format="json")
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "timestamp", "status"} and body["status"] == "success"
    message_id = body["id"]
    assert len(message_id) == 10 and message_id.isalnum() and body["timestamp"] > before

    # The frontend polls `since`.
    [polled] = frontend.get(f"/api/comments?since={before}").json()
    assert polled == {
        "id": message_id,
        "timestamp": body["timestamp"],
        "text": "Why is space black?",
        "username": "Human",
        "color": "169080199",
        "messageType": "human",
        "replyTo": None,
        "botParams": {"status": "pending", "priority": 5, "entity": "fear-and-loathing",
                      "claimedBy": None, "claimedAt": None, "completedAt": None},
    }
    stored = QueueMessage.objects.get(pk=message_id)
    assert (stored.color, stored.priority, stored.entity, stored.message_type) == ("#a950c7", 5, "fear-and-loathing", "human")

    # The bot polls pending, claims, answers, completes.
    assert [m["id"] for m in bot.get("/api/queue/pending?limit=10").json()] == [message_id]
    claimed = bot.post("/api/queue/claim", {"messageId": message_id, "workerId": "test-worker"}, format="json")
    assert claimed.status_code == 200
    claim = claimed.json()
    assert claim["success"] is True and claim["message"]["id"] == message_id
    params = claim["message"]["botParams"]
    assert (params["status"], params["claimedBy"]) == ("processing", "test-worker")
    assert isinstance(params["claimedAt"], int) and params["claimedAt"] >= body["timestamp"]
    assert bot.get("/api/queue/pending").json() == []
    again = bot.post("/api/queue/claim", {"messageId": message_id, "workerId": "other-worker"}, format="json")
    assert again.status_code == 409 and again.json()["success"] is False

    answer = bot.post("/api/comments", ai_reply(message_id), format="json")
    assert answer.status_code == 201 and answer.json()["status"] == "success"
    done = bot.post("/api/queue/complete", {"messageId": message_id}, format="json")
    assert (done.status_code, done.json()) == (200, {"success": True})
    assert bot.post("/api/queue/complete", {"messageId": message_id}, format="json").status_code == 409

    # The frontend sees the reply; the message is complete.
    stream = frontend.get(f"/api/comments?since={before}").json()
    assert [(m["id"], m["messageType"], m["replyTo"]) for m in stream] == [
        (message_id, "human", None), (answer.json()["id"], "AI", message_id)
    ]
    assert stream[0]["botParams"]["status"] == "complete" and isinstance(stream[0]["botParams"]["completedAt"], int)
    assert stream[1]["color"] == "080169199" and stream[1]["botParams"]["status"] == "complete"
    assert frontend.get(f"/api/comments?since={stream[1]['timestamp']}").json() == []

    # alice, who wrote the message, is told of the reply as by Harbor's own completion.
    [told] = frontend.get("/api/notifications").json()["results"]
    assert (told["kind"], told["payload"]) == ("queue.reply", {"message_id": message_id, "reply_id": answer.json()["id"]})
    assert told["title"] == "FearAndLoathing replied to your message"


@pytest.mark.django_db
def test_a_client_may_bring_its_own_id_and_timestamp_and_every_field_is_stored(frontend, bot):
    body = frontend.post("/api/comments", {**HUMAN, "id": "24spd5q8ti", "timestamp": 1762032398376}, format="json").json()
    assert body == {"id": "24spd5q8ti", "timestamp": 1762032398376, "status": "success"}
    assert frontend.post("/api/comments", {**HUMAN, "id": "24spd5q8ti"}, format="json").status_code == 409
    reply = {**ai_reply("24spd5q8ti"), "botParams": {"status": "complete", "priority": 5, "entity": "fear-and-loathing",
                                                      "claimedBy": "test-worker", "claimedAt": 1762032398500,
                                                      "completedAt": 1762032399000}}
    bot.post("/api/comments", reply, format="json")
    [_, stored] = frontend.get("/api/comments?since=0").json()
    assert stored["botParams"] == reply["botParams"] and stored["replyTo"] == "24spd5q8ti"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field",
    [
        ({"mood": "curious"}, "mood"),
        ({"color": "16908019"}, "color"),
        ({"color": "256000000"}, "color"),
        ({"color": "#a950c7"}, "color"),
        ({"messageType": "ai"}, "messageType"),
        ({"replyTo": "nosuchmsg0"}, "replyTo"),
        ({"text": ""}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"timestamp": "soon"}, "timestamp"),
        ({"botParams": {"priority": 11}}, "botParams"),
        ({"botParams": {"urgent": True}}, "botParams"),
        ({"botParams": {"status": "complete"}}, "botParams"),
        ({"botParams": {"claimedBy": "someone"}}, "botParams"),
    ],
)
def test_a_bad_or_unknown_field_is_a_400_naming_it(frontend, change, field):
    response = frontend.post("/api/comments", {**HUMAN, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not QueueMessage.objects.exists()


@pytest.mark.django_db
def test_unknown_fields_in_botparams_are_named(frontend):
    response = frontend.post("/api/comments", {**HUMAN, "botParams": {"urgent": True}}, format="json")
    assert response.json()["error"]["fields"] == {"botParams": {"urgent": ["Unknown field."]}}


@pytest.mark.django_db
def test_only_the_bot_user_holding_the_claim_completes_it(frontend, bot, mallory):
    message_id = frontend.post("/api/comments", HUMAN, format="json").json()["id"]
    rival = bearer_client(services.make_bot(mallory))
    assert rival.post("/api/queue/complete", {"messageId": message_id}, format="json").status_code == 409  # pending
    bot.post("/api/queue/claim", {"messageId": message_id, "workerId": "w1"}, format="json")
    refused = rival.post("/api/queue/complete", {"messageId": message_id}, format="json")
    assert refused.status_code == 409 and refused.json()["success"] is False
    assert QueueMessage.objects.get(pk=message_id).status == "processing"
    assert bot.post("/api/queue/complete", {"messageId": message_id}, format="json").json() == {"success": True}
    assert bot.post("/api/queue/complete", {"messageId": "nosuchmsg0"}, format="json").status_code == 404


@pytest.mark.django_db
def test_people_post_and_read_but_only_bots_work_the_queue(frontend, api_client):
    message_id = frontend.post("/api/comments", HUMAN, format="json").json()["id"]
    assert frontend.get("/api/queue/pending").status_code == 403
    assert frontend.post("/api/queue/claim", {"messageId": message_id, "workerId": "w1"}, format="json").status_code == 403
    assert frontend.post("/api/queue/complete", {"messageId": message_id}, format="json").status_code == 403
    assert frontend.post("/api/comments", ai_reply(message_id), format="json").status_code == 403
    assert api_client.get("/api/comments?since=0").status_code == 401
    assert api_client.post("/api/comments", HUMAN, format="json").status_code == 401


@pytest.mark.django_db
def test_the_seeds_routes_serve_the_public_stream_only(frontend, bot, alice, acme):
    services.post_message(alice, "inside acme", tenant_id=acme.pk)
    assert frontend.get("/api/comments").json() == [] and bot.get("/api/queue/pending").json() == []


@pytest.mark.django_db
def test_a_seed_post_reaches_sockets_in_harbors_shape(frontend, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message_id = frontend.post("/api/comments", HUMAN, format="json").json()["id"]
    event = Event.objects.get()
    assert event.type == "queue_message.created"
    assert event.data["message"] == frontend.get(f"/api/queue/messages/{message_id}").json()


@pytest.mark.django_db
@pytest.mark.parametrize("query, field", [("since=-1", "since"), ("since=soon", "since")])
def test_a_bad_since_is_a_400(frontend, query, field):
    response = frontend.get(f"/api/comments?{query}")
    assert response.status_code == 400 and field in response.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_30_of_30_thirty_clients_post_and_every_message_is_answered_exactly_once(daphne_processes):
    """The seed's acceptance run ("Run 30-tab stress test, verify 30/30 success rate"): 30
    clients post at once while 4 bots poll pending, claim, post their reply and complete,
    all over HTTP through the original routes against two daphne processes."""
    servers = daphne_processes(2)
    posters = [accounts.issue_api_token(accounts.register_user(f"tab{i}@example.com", PASSWORD), "tab")[1] for i in range(30)]
    bot_token = accounts.issue_api_token(services.make_bot(accounts.register_user("pm2@example.com", PASSWORD)), "pm2")[1]
    claims, lock, posted = Counter(), threading.Lock(), []
    deadline = time.monotonic() + 90

    def tab(i):
        url = servers[i % 2].url
        status, body = http_json("POST", f"{url}/api/comments", {**HUMAN, "text": f"Question {i}?"}, posters[i])
        assert status == 201 and body["status"] == "success", body
        with lock:
            posted.append(body["id"])

    def pm2(n):
        url, worker = servers[n % 2].url, f"pm2-{n}"
        while time.monotonic() < deadline:
            status, pending = http_json("GET", f"{url}/api/queue/pending?limit=10", None, bot_token)
            assert status == 200, pending
            if not pending:
                with lock:
                    if len(posted) == 30 and sum(claims.values()) >= 30:
                        return
                time.sleep(0.05)
                continue
            for message in pending:
                status, body = http_json("POST", f"{url}/api/queue/claim", {"messageId": message["id"], "workerId": worker}, bot_token)
                if status == 409:
                    continue  # another bot took it
                assert status == 200 and body["success"], body
                with lock:
                    claims[message["id"]] += 1
                status, body = http_json("POST", f"{url}/api/comments", ai_reply(message["id"]), bot_token)
                assert status == 201, body
                status, body = http_json("POST", f"{url}/api/queue/complete", {"messageId": message["id"]}, bot_token)
                assert (status, body) == (200, {"success": True})

    with ThreadPoolExecutor(34) as pool:
        bots = [pool.submit(pm2, n) for n in range(4)]
        for future in [pool.submit(tab, i) for i in range(30)]:
            future.result()
        for future in bots:
            future.result()

    assert len(posted) == 30 and set(claims) == set(posted) and set(claims.values()) == {1}
    humans = QueueMessage.objects.filter(message_type="human")
    assert humans.count() == 30 and set(humans.values_list("status", flat=True)) == {"complete"}
    replies = Counter(QueueMessage.objects.filter(message_type="ai").values_list("reply_to_id", flat=True))
    assert set(replies) == set(posted) and set(replies.values()) == {1}, "30/30: each answered exactly once"

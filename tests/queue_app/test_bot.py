"""The bot engine, driven without the command: in-process (ORM) and against a live Harbor."""

import pytest

from project.accounts import services as accounts
from queue_app import services
from queue_app.bot import BotEngine, HttpBackend, LocalBackend
from queue_app.models import QueueMessage

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def replies():
    return dict(QueueMessage.objects.filter(message_type="ai").values_list("reply_to_id", "text"))


def test_it_answers_everything_claimable_then_stops_with_once(alice):
    first = services.post_message(alice, "hello")
    second = services.post_message(alice, "for duke", entity="duke")
    stats = BotEngine(once=True, concurrency=2).run()
    assert stats.answered == 2 and stats.failed == 0
    assert replies() == {first.pk: "echo heard: hello", second.pk: "duke heard: for duke"}
    reply = QueueMessage.objects.get(reply_to=second)
    assert reply.username == "duke" and reply.status == "complete"


def test_it_only_answers_its_entities(alice):
    services.post_message(alice, "anyone?")
    mine = services.post_message(alice, "duke?", entity="duke")
    assert BotEngine(once=True, entities=["duke"]).run().answered == 1
    assert list(replies()) == [mine.pk]


def test_a_reply_sees_the_thread(alice, settings):
    settings.QUEUE_PERSONAS = {"duke": "You are Duke."}
    root = services.post_message(alice, "one", entity="duke")
    BotEngine(once=True).run()
    answer = QueueMessage.objects.get(reply_to=root)
    services.post_message(alice, "two", entity="duke", reply_to=answer.pk)
    claimed = services.claim_next("peek")
    assert [m.text for m in claimed.ancestors()] == ["one", "duke heard: one"]


def test_a_missing_key_is_a_dead_letter_at_once(alice, settings):
    settings.OPENAI_API_KEY = ""
    message = services.post_message(alice, "hello")
    stats = BotEngine(once=True, provider="openai").run()
    assert (stats.answered, stats.failed) == (0, 1)
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 1 and "OPENAI_API_KEY" in message.last_error


def test_a_transient_provider_failure_goes_back_to_the_queues_backoff(alice, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens: never sent
    settings.OPENAI_API_KEY = "sk-test"
    settings.RETRY_MAX_ATTEMPTS = 1
    message = services.post_message(alice, "hello")
    BotEngine(once=True, provider="openai").run()
    message.refresh_from_db()
    assert message.status == "pending" and message.attempts == 1 and "could not connect" in message.last_error


def test_a_stopped_engine_releases_its_unstarted_claim(alice):
    message = services.post_message(alice, "hello")
    engine = BotEngine(once=True)
    claimed = engine.backend.claim_many(engine.worker, 1, [], None)
    engine.stop()
    engine._release(claimed)
    message.refresh_from_db()
    assert (message.status, message.attempts, engine.stats.released) == ("pending", 0, 1)


def test_it_works_a_remote_harbor_over_the_api(live_daphne, alice):
    bot = services.make_bot(accounts.register_user("robot@example.com", PASSWORD))
    _, token = accounts.issue_api_token(bot, "remote bot")
    messages = [services.post_message(alice, f"remote {i}") for i in range(3)]
    stats = BotEngine(HttpBackend(live_daphne, token), once=True, concurrency=2).run()
    assert stats.answered == 3
    assert replies() == {m.pk: f"echo heard: remote {i}" for i, m in enumerate(messages)}


def test_a_remote_bot_without_a_bot_token_stops(live_daphne, alice):
    _, token = accounts.issue_api_token(alice, "not a bot")
    services.post_message(alice, "hello")
    engine = BotEngine(HttpBackend(live_daphne, token), once=False, idle_seconds=0.05)
    stats = engine.run()  # returns: a 403 stops the bot rather than retrying forever
    assert engine.stopping and stats.answered == 0 and QueueMessage.objects.get().status == "pending"


def queue_requests(server) -> list[str]:
    """The queue API requests the server answered, from its own access log."""
    return [line.split('"')[1] for line in server.log_tail(1_000_000).splitlines()
            if '"POST /api/queue/' in line]


def test_a_remote_bot_claims_and_completes_in_batches(daphne_processes, alice):
    (server,) = daphne_processes(1)
    bot = services.make_bot(accounts.register_user("robot@example.com", PASSWORD))
    _, token = accounts.issue_api_token(bot, "remote bot")
    messages = [services.post_message(alice, f"batch {i}") for i in range(40)]
    stats = BotEngine(HttpBackend(server.url, token), once=True, concurrency=16).run()
    assert stats.answered == 40
    assert replies() == {m.pk: f"echo heard: batch {i}" for i, m in enumerate(messages)}
    requests = queue_requests(server)
    # 40 answers at 16 slots: a claim of 16, completions that claim the next ones, and the last
    # claim that finds nothing — a handful of requests, not 80
    assert requests[0] == "POST /api/queue/claims"
    assert requests.count("POST /api/queue/completions") <= 8, requests
    assert len(requests) <= 12, requests
    assert not any("/complete" in r and "/completions" not in r for r in requests)


def test_answers_that_finish_together_are_handed_in_together(alice, settings):
    settings.QUEUE_ECHO_DELAY_SECONDS = 0.2  # every slot answers at about the same time
    for i in range(8):
        services.post_message(alice, f"slow {i}")
    calls = []

    class CountingBackend(LocalBackend):
        def complete_many(self, worker, answers, **kwargs):
            calls.append(len(answers))
            return super().complete_many(worker, answers, **kwargs)

    stats = BotEngine(CountingBackend(), once=True, concurrency=8).run()
    assert stats.answered == 8 and sum(calls) == 8 and len(calls) <= 2, calls

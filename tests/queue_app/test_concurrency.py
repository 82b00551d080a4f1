"""The concurrency proof: real clients, real daphne processes, the real database. Every message
is answered exactly once and no message is ever claimed twice."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from project.accounts import services as accounts
from queue_app import services
from queue_app.models import QueueMessage

from ..conftest import PASSWORD, http_json

pytestmark = pytest.mark.django_db(transaction=True)


def run_workers(urls, token, workers, expected, deadline_s, claims, answer=lambda m: f"re: {m['text']}"):
    """`workers` threads (spread over the servers at `urls`) claim the next / complete(next=true)
    until `expected` messages are done. Every claim any worker receives is appended to `claims`
    as (message id, claim token)."""
    lock = threading.Lock()
    completed = Counter()
    deadline = time.monotonic() + deadline_s

    def work(n):
        worker, url = f"worker-{n}", urls[n % len(urls)]
        current = None
        while time.monotonic() < deadline:
            if current is None:
                status, body = http_json("POST", f"{url}/api/queue/claims", {"worker_id": worker}, token)
                if status == 204:
                    with lock:
                        if sum(completed.values()) >= expected:
                            return
                    time.sleep(0.02)
                    continue
                assert status == 201, body
                current = body
                with lock:
                    claims.append((current["id"], current["claim_token"]))
            status, body = http_json(
                "POST",
                f"{url}/api/queue/messages/{current['id']}/complete",
                {"worker_id": worker, "claim_token": current["claim_token"], "reply": answer(current), "next": True},
                token,
            )
            assert status == 200, body
            with lock:
                completed[current["id"]] += 1
                if body["next"]:
                    claims.append((body["next"]["id"], body["next"]["claim_token"]))
            current = body["next"]

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, n) for n in range(workers)]:
            future.result()
    return completed


def assert_each_answered_exactly_once(ids, claims):
    claimed = Counter(message_id for message_id, _ in claims)
    assert set(claimed) == set(ids)
    assert max(claimed.values()) == 1, "a message was claimed twice"
    humans = QueueMessage.objects.filter(message_type="human")
    assert humans.count() == len(ids) and set(humans.values_list("status", flat=True)) == {"complete"}
    replies = Counter(QueueMessage.objects.filter(message_type="ai").values_list("reply_to_id", flat=True))
    assert set(replies) == set(ids) and set(replies.values()) == {1}


def test_30_clients_and_8_workers_through_daphne(daphne_processes):
    servers = daphne_processes(2)
    bot = services.make_bot(accounts.register_user("robot@example.com", PASSWORD))
    _, bot_token = accounts.issue_api_token(bot, "workers")
    posters = [accounts.issue_api_token(accounts.register_user(f"p{i}@example.com", PASSWORD), "t")[1] for i in range(30)]
    claims, ids = [], []

    def post(i):
        status, body = http_json("POST", f"{servers[i % 2].url}/api/queue/messages", {"text": f"question {i}"}, posters[i])
        assert status == 201, body
        return body["id"]

    with ThreadPoolExecutor(2) as runner:
        workers = runner.submit(run_workers, [s.url for s in servers], bot_token, 8, 30, 60, claims)
        with ThreadPoolExecutor(30) as clients:
            ids = list(clients.map(post, range(30)))
        completed = workers.result()
    assert len(ids) == 30 and sorted(completed) == sorted(ids) and set(completed.values()) == {1}
    assert_each_answered_exactly_once(ids, claims)
    for message_id in ids[:3]:
        reply = QueueMessage.objects.get(reply_to_id=message_id)
        assert reply.text == f"re: {QueueMessage.objects.get(pk=message_id).text}"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the large run is for PostgreSQL (SKIP LOCKED)")
def test_16_workers_answer_2000_messages_once_each():
    """16 threads, each with its own database connection, work the services directly: the
    contention is on the rows, which is what SKIP LOCKED and the conditional update are about.
    (HTTP adds nothing to it, and through two daphne processes on this 2-core machine it
    managed ~40 completions/s, so 2,000 would not fit the time budget.)"""
    alice = accounts.register_user("alice@example.com", PASSWORD)
    # Rows straight in: 2,000 post_message() calls (and their 2,000 socket deliveries) would
    # spend the time budget on setup. post_message is proven by the 30-client test above.
    ids = [m.id for m in QueueMessage.objects.bulk_create(
        QueueMessage(text=f"m{i}", username="alice", author=alice, priority=i % 11, timestamp=i) for i in range(2000)
    )]
    claims, lock = [], threading.Lock()
    completed = Counter()
    connection.close()  # the test thread's connection goes back to the pool too
    started = time.monotonic()

    def work(n):
        worker = f"worker-{n}"
        try:
            current = services.claim_next(worker)
            while current is not None:
                with lock:
                    claims.append((current.id, current.claim_token))
                message, reply, current = services.complete(
                    current.id, worker, current.claim_token, f"re: {current.text}", claim_next_message=True
                )
                with lock:
                    completed[message.id] += 1
                # Back to the pool after each call, as a request does: 16 workers share the
                # process's DATABASE_POOL_MAX connections.
                connection.close()
        finally:
            connection.close()

    with ThreadPoolExecutor(16) as pool:
        for future in [pool.submit(work, n) for n in range(16)]:
            future.result()
    elapsed = time.monotonic() - started
    print(f"16 workers answered 2000 messages in {elapsed:.1f}s")
    assert sorted(completed) == sorted(ids) and set(completed.values()) == {1}, f"after {elapsed:.1f}s"
    assert_each_answered_exactly_once(ids, claims)
    assert len({worker for worker in QueueMessage.objects.filter(message_type="ai").values_list("claimed_by", flat=True)}) > 1

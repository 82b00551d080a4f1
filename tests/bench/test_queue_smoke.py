"""The queue benchmark must not rot: its Lua bots and producers under wrk against a real daphne,
and its raw-SQL baseline, on the test database (embedded leg only; `bin/bench` itself is not
part of the suite). bin/test installs wrk."""

import shutil
import threading

import pytest
from django.conf import settings
from django.db.models import Count

from bench import queue as queue_bench
from bench.seed import queue as seed_queue
from queue_app.models import QueueMessage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="embedded leg only"),
    pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (bin/test installs it with apt-get)"),
]


def test_the_bots_answer_each_message_once_while_the_producers_post(daphne_processes):
    seeded = seed_queue(pending=40, authors=3)
    (server,) = daphne_processes(1)

    produced = {}

    def produce():
        produced["wrk"], produced["counters"] = queue_bench.wrk_lua(
            server.url, 1, 1, queue_bench.LUA_SCRIPT.with_name("queue_producers.lua"), seeded["producer_token"], threads=1
        )

    producer = threading.Thread(target=produce)
    producer.start()
    harbor, bots = queue_bench.wrk_lua(server.url, 4, 1, queue_bench.LUA_SCRIPT, seeded["bot_token"], "smoke")
    producer.join()
    producers = produced["counters"]
    server.stop()  # wrk leaves requests in flight: let them finish before counting (as bin/bench does)

    assert harbor["non_2xx"] == 0 and bots["conflicts"] == 0 and bots["failures"] == 0
    assert bots["completed"] > 0
    replies = QueueMessage.objects.filter(message_type="ai", claimed_by__startswith="smoke-")
    answered = QueueMessage.objects.filter(message_type="human", status="complete", claimed_by__startswith="smoke-")
    assert replies.count() == answered.count() >= bots["completed"]
    assert not replies.values("reply_to").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert producers["posted"] > 0 and producers["failures"] == 0
    # wrk stops without reading the answer still in flight on its one connection
    assert QueueMessage.objects.filter(text__startswith="Produced question").count() - producers["posted"] in (0, 1)


def test_the_batched_bots_answer_each_message_once_in_batches(daphne_processes):
    seeded = seed_queue(pending=60, authors=3)
    (server,) = daphne_processes(1)

    harbor, bots = queue_bench.wrk_lua(server.url, 2, 1, queue_bench.BATCH_LUA_SCRIPT, seeded["bot_token"], "batch", "10")
    server.stop()  # let the requests wrk left in flight finish before counting

    assert harbor["non_2xx"] == 0 and bots["conflicts"] == 0 and bots["failures"] == 0
    # batches, not one request per message: besides the claims that found nothing once the 60
    # were answered, a request claims or completes ten
    assert bots["completed"] > 0 and bots["requests"] - bots["empty"] <= bots["completed"] // 10 + 4
    replies = QueueMessage.objects.filter(message_type="ai", claimed_by__startswith="batch-")
    answered = QueueMessage.objects.filter(message_type="human", status="complete", claimed_by__startswith="batch-")
    assert replies.count() == answered.count() >= bots["completed"]
    assert not replies.values("reply_to").annotate(n=Count("id")).filter(n__gt=1).exists()


def test_the_raw_sql_baseline_claims_and_completes_what_it_reports():
    seed_queue(pending=30, authors=2)
    database = settings.DATABASES["default"]["NAME"]

    baseline = queue_bench.raw_sql_sqlite(str(database), clients=2, pairs=20)

    assert baseline["pairs"] == 20
    done = QueueMessage.objects.filter(claimed_by="sql-bot", status="complete")
    assert done.count() == 20
    assert QueueMessage.objects.filter(status="pending").count() == 10
    # the best first: every priority it took is at least every priority it left
    assert min(done.values_list("priority", flat=True)) >= max(
        QueueMessage.objects.filter(status="pending").values_list("priority", flat=True)
    )


def test_the_pgbench_script_claims_with_skip_locked_and_completes_under_the_claim_token():
    script = queue_bench.pgbench_script()
    assert "FOR UPDATE SKIP LOCKED LIMIT 1" in script and "RETURNING id \\gset" in script
    assert "claim_token = :token" in script.splitlines()[-1]

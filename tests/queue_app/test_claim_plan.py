"""A claim reads the best pending messages off the index in order, whatever PostgreSQL's
statistics say: without them (a fresh or bulk-loaded table before autovacuum's ANALYZE, or a
server that runs none, as this machine's) the planner took 20,000 pending rows for a handful,
read them all through a bitmap and sorted them, or walked the whole pending index for the
claimed ids; at 100,000 pending that was 130 ms a claim instead of 3 (docs/performance.md)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from queue_app import services
from queue_app.models import QueueMessage, now_ms

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
]


def _plan(statements: list[str]) -> str:
    """EXPLAIN of the last statement after the ones before it, sent as the claim is (one query
    string), in a transaction rolled back."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("; ".join([*statements[:-1], "EXPLAIN " + statements[-1]]))
        for _ in statements[:-1]:
            cursor.nextset()
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def test_a_claim_walks_the_pending_index_in_order_even_without_statistics(alice):
    timestamp, now = now_ms(), timezone.now()
    QueueMessage.objects.bulk_create(
        [QueueMessage(text=f"question {n}", username="alice", author=alice, priority=n % 11, timestamp=timestamp + n,
                      available_at=now) for n in range(20000)], batch_size=5000
    )
    with connection.cursor() as cursor:  # what the table looks like before any ANALYZE
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", [QueueMessage._meta.db_table])
        cursor.execute("UPDATE pg_class SET reltuples = -1 WHERE oid = %s::regclass", [QueueMessage._meta.db_table])

    with CaptureQueriesContext(connection) as captured:
        claimed = services.claim_many("w1", 40)
    statements = [query["sql"] for query in captured.captured_queries]
    # One round trip: the settings, then the claim, in one query string.
    setting, claim = next(s for s in statements if "set_config" in s).split("; ", 1)
    assert claim.startswith("UPDATE")

    assert [m.priority for m in claimed] == [10] * 40  # the best first
    plan = _plan([setting, claim])
    candidates, update = plan.split("->  Index Scan using queue_app_queuemessage_")  # the init plan, then the UPDATE's rows
    # The candidates down the pending index, in its order: nothing read in bulk, nothing sorted.
    assert "Index Scan using queue_pending_claim_order" in candidates and "Sort" not in plan and "Bitmap" not in plan
    # The claimed rows by their ids (not by walking the pending index again, filtering on id).
    assert update.startswith(("pkey", "id_")) and "queue_pending_claim_order" not in update

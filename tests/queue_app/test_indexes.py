"""The queue table keeps only the indexes its queries use: every claim and completion updates a
row in each of them (docs/performance.md, queue)."""

import pytest
from django.db import connection

from queue_app.models import QueueMessage

pytestmark = pytest.mark.django_db

TABLE = QueueMessage._meta.db_table


def indexes() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, TABLE)
    return {name: info["columns"] for name, info in found.items() if info["index"] and not info["primary_key"]}


def test_replies_and_streams_are_indexed_once():
    found = indexes()
    assert found["queue_reply_to"] == ["reply_to_id"]
    assert found["queue_stream_since"] == ["tenant_id", "timestamp"]
    # tenant_id alone is the stream index's prefix; reply_to_id has one index, not two
    assert [name for name, columns in found.items() if columns == ["tenant_id"]] == []
    assert [name for name, columns in found.items() if columns == ["reply_to_id"]] == ["queue_reply_to"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pattern indexes are PostgreSQL's")
def test_no_pattern_index_for_like_lookups_nobody_makes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [TABLE])
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 8
    assert not [definition for definition in definitions if "pattern_ops" in definition]

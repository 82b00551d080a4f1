"""project.postgresql: timestamps read from PostgreSQL through psycopg's C parser are the
instants written, aware and in UTC, as Django's own loader gives them, and stay right where
Django's would shift them (a session in another time zone)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from workflows import services
from workflows.models import Message

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's timestamptz loader"),
]

INSTANTS = [
    datetime.datetime(2026, 12, 8, 3, 40, 16, 991234, tzinfo=datetime.UTC),
    datetime.datetime(1999, 7, 4, 23, 30, tzinfo=ZoneInfo("America/New_York")),  # daylight time, another day in UTC
    datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=-9, minutes=-30))),
]


def test_a_stored_instant_reads_back_the_same_aware_in_utc(alice, acme):
    workflow = services.create_workflow(acme, alice, "Times", [])
    for instant in INSTANTS:
        message = Message.objects.create(workflow=workflow, sender=alice, content="x", created_at=instant)
        read = Message.objects.get(pk=message.pk).created_at
        assert read == instant
        assert read.tzinfo is datetime.UTC and read.utcoffset() == datetime.timedelta(0)
        assert read.isoformat() == instant.astimezone(datetime.UTC).isoformat()


def test_the_instant_is_right_in_a_session_set_to_another_time_zone(alice, acme):
    """Django's loader replaces the session's offset with UTC (ticket #36960's neighbour): here the
    value keeps its instant whatever the session's time zone."""
    message = Message.objects.create(workflow=services.create_workflow(acme, alice, "Times", []), sender=alice, content="x", created_at=INSTANTS[0])
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Asia/Kolkata'")
        try:
            cursor.execute("SELECT created_at FROM workflows_message WHERE id = %s", [message.pk])
            [(read,)] = cursor.fetchall()
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
    assert read == INSTANTS[0]


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_the_statements_written_once_are_prepared_and_logged_with_their_values(alice):
    """The token statement of an API request is parsed and planned once per connection and then
    reused; Django's own queries are not prepared; the query log shows the bound values."""
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import bearer_client

    client = bearer_client(alice)
    with CaptureQueriesContext(connection) as first:
        assert client.get("/api/auth/tokens").status_code == 200
    logged = first.captured_queries[0]["sql"]
    assert "k.\"key_hash\" = '" in logged  # the hash, quoted, where the parameter was
    assert client.get("/api/auth/tokens").status_code == 200
    [prepared] = prepared_statements()  # the token statement, once; not the list's ORM query
    assert "key_hash" in prepared and "$1" in prepared


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    from tests.project.test_settings import show_settings

    url = "postgres://harbor@127.0.0.1:5432/harbor"
    assert show_settings(DATABASE_URL=url, REDIS_URL="")["db_options"]["prepare_threshold"] == 5
    assert "prepare_threshold" not in show_settings(DATABASE_URL=url, REDIS_URL="", DATABASE_PREPARED_STATEMENTS="false")["db_options"]

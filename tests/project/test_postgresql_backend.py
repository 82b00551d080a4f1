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

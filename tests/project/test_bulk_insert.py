"""project.sql.bulk_insert stores exactly what bulk_create would, on both databases: text with
quotes, backslashes and every script, nested JSON, datetimes to the microsecond, NULLs, foreign
keys, ids made by the database (in order) and ids made by the model."""

from datetime import datetime, timedelta, timezone

import pytest

from notifications.models import Notification
from project.accounts.models import User
from project.realtime.models import Event
from project.sql import bulk_insert, new_row
from queue_app.models import QueueMessage

pytestmark = pytest.mark.django_db

AWKWARD = 'a "quoted" \\ back\\slash, {braces}, [brackets], \'single\', tab\t, newline\n, émoji 🚀, 中文, %s %(x)s'


def test_rows_read_back_as_written_with_ids_in_order():
    moment = datetime(2026, 12, 2, 10, 6, 59, 606218, tzinfo=timezone.utc)
    data = {"text": AWKWARD, "nested": {"list": [1, 2.5, None, True, AWKWARD], "empty": {}}, "n": 10**15}
    events = [Event(group=f"queue.g{i}", type="queue_message.claimed", data={**data, "i": i},
                    created_at=moment + timedelta(microseconds=i)) for i in range(30)]
    assert bulk_insert(events) is events
    ids = [event.pk for event in events]
    assert all(isinstance(pk, int) for pk in ids) and ids == sorted(ids) and len(set(ids)) == 30
    stored = {event.pk: event for event in Event.objects.filter(pk__in=ids)}
    for i, event in enumerate(events):
        assert stored[event.pk].group == f"queue.g{i}"
        assert stored[event.pk].data == {**data, "i": i}
        assert stored[event.pk].created_at == moment + timedelta(microseconds=i)
    assert not events[0]._state.adding


def test_model_made_ids_foreign_keys_and_nulls():
    author = User.objects.create_user("ann@example.com", "x" * 12)
    question = QueueMessage.objects.create(text="Where?", username="Ann", author=author)
    replies = [QueueMessage(text=AWKWARD, username="Bot", reply_to=question, message_type="AI", status="complete")
               for _ in range(3)]
    bulk_insert(replies)
    stored = list(QueueMessage.objects.filter(reply_to=question).order_by("id"))
    assert sorted(reply.pk for reply in replies) == [reply.pk for reply in stored]
    assert all(reply.text == AWKWARD and reply.author_id is None and reply.tenant_id is None for reply in stored)
    note = bulk_insert([Notification(recipient=author, kind="queue.reply", title=AWKWARD[:50], payload={})])[0]
    assert Notification.objects.get(pk=note.pk).title == AWKWARD[:50]


def test_nothing_to_insert():
    assert bulk_insert([]) == []


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_new_row_is_the_models_own_instance_with_its_defaults(alice):
    """new_row(Model, **values) (the hot paths' rows, without Model.__init__) gives the instance
    Model(**values) gives, fresh defaults included, and stores as it does."""
    parent = QueueMessage.objects.create(text="parent", username="alice")
    values = {"text": AWKWARD, "username": "bot", "reply_to_id": parent.pk, "author_id": alice.pk, "priority": 3}
    row, model_made = new_row(QueueMessage, **values), QueueMessage(**values)
    assert row._state.adding and row.pk and row.pk != model_made.pk  # a fresh id each (a callable default)
    made_at_each_call = ("id", "timestamp", "available_at")  # callable defaults
    assert {k: v for k, v in _fields(row).items() if k not in made_at_each_call} == \
        {k: v for k, v in _fields(model_made).items() if k not in made_at_each_call}
    first, second = new_row(Notification, recipient_id=alice.pk, kind="queue.reply", title="t"), \
        new_row(Notification, recipient_id=alice.pk, kind="queue.reply", title="t")
    assert first.payload == {} and first.payload is not second.payload  # default=dict: one each
    bulk_insert([row])
    assert QueueMessage.objects.get(pk=row.pk).reply_to == parent


def test_new_row_refuses_what_is_not_an_attname():
    with pytest.raises(TypeError, match="reply_to"):
        new_row(QueueMessage, text="x", reply_to=None)

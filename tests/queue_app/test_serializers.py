"""message_data and claimed_data are written out for speed: they must say exactly what the
documented serializers say (the schema is generated from those)."""

import pytest

from queue_app import services
from queue_app.models import QueueMessage
from queue_app.serializers import ClaimedMessageSerializer, QueueMessageSerializer, claimed_data, message_data

pytestmark = pytest.mark.django_db


def test_the_written_out_shapes_equal_the_serializers(alice, acme):
    root = services.post_message(alice, "root", color="#aabbcc", entity="duke", priority=3, tenant_id=acme.pk)
    [claimed] = services.claim_many("w1", 1)
    _, reply, _ = services.complete(claimed.id, "w1", claimed.claim_token, "answer")
    services.post_message(alice, "follow-up", reply_to=reply.id, tenant_id=acme.pk)
    [follow_up] = services.claim_many("w1", 1)
    services.fail(follow_up.id, "w1", "boom", follow_up.claim_token)
    for message in QueueMessage.objects.all():
        assert message_data(message) == dict(QueueMessageSerializer(message).data)
    services.post_message(alice, "second follow-up", reply_to=reply.id, tenant_id=acme.pk)
    [threaded] = services.claim_many("w2", 1, lease_seconds=600)
    assert [item["text"] for item in claimed_data(threaded)["thread"]] == ["root", "answer"]
    for message in (claimed, threaded):
        assert claimed_data(message) == dict(ClaimedMessageSerializer(message).data)
    assert root.pk


def _drf_answer(serializer_class, item):
    """What the serializer's fields alone answer: the value, or the errors."""
    from rest_framework import serializers

    try:
        return dict(serializers.Serializer.run_validation(serializer_class(), item))
    except serializers.ValidationError as error:
        return error.detail


def _answer(serializer_class, item):
    from rest_framework import serializers

    try:
        return dict(serializer_class().run_validation(item))
    except serializers.ValidationError as error:
        return error.detail


def _quick_checked():
    from queue_app.serializers import CompleteSerializer, CompletionItemSerializer

    return CompletionItemSerializer, CompleteSerializer


PLAIN = {"id": "abc", "claim_token": "t" * 32}
EDGES = [
    PLAIN, {**PLAIN, "reply": "Yes."}, {**PLAIN, "reply": None}, {**PLAIN, "reply": ""}, {**PLAIN, "reply": " padded "},
    {**PLAIN, "reply": "x" * 100_001}, {**PLAIN, "reply": "a\x00b"}, {**PLAIN, "reply": "\ud800"}, {**PLAIN, "reply": "é🙂"},
    {**PLAIN, "username": ""}, {**PLAIN, "username": " Bot"}, {**PLAIN, "username": "u" * 101}, {**PLAIN, "username": 5},
    {**PLAIN, "color": "#AAbb09"}, {**PLAIN, "color": "#aabbcc\n"}, {**PLAIN, "color": "red"}, {**PLAIN, "color": None},
    {"id": "abc"}, {**PLAIN, "id": ""}, {**PLAIN, "id": "x" * 11}, {**PLAIN, "id": 7}, {**PLAIN, "claim_token": "t" * 33},
    {**PLAIN, "extra": 1}, [], "abc", None, {**PLAIN, "reply": True},
]
#: The single route's body (POST /api/queue/messages/{id}/complete): the same answer fields
#: with a worker id and `next` instead of the id.
SINGLE = {"worker_id": "bot-1", "claim_token": "t" * 32}
SINGLE_EDGES = [
    SINGLE, {**SINGLE, "reply": "Yes.", "next": True}, {**SINGLE, "next": False}, {**SINGLE, "next": 1},
    {**SINGLE, "next": "true"}, {**SINGLE, "next": None}, {**SINGLE, "worker_id": ""}, {**SINGLE, "worker_id": "a b"},
    {**SINGLE, "worker_id": "w" * 101}, {**SINGLE, "worker_id": " w"}, {**SINGLE, "worker_id": 3},
    {**SINGLE, "reply": " padded "}, {**SINGLE, "reply": "a\x00b"}, {**SINGLE, "color": "red"}, {**SINGLE, "entity": "sage"},
    {**SINGLE, "lease_seconds": 30}, {**SINGLE, "entities": ["sage"]}, {**SINGLE, "id": "abc"}, {"worker_id": "w"}, [],
]
CASES = [(0, item) for item in EDGES] + [(1, item) for item in SINGLE_EDGES]


@pytest.mark.parametrize(("which", "item"), CASES, ids=range(len(CASES)))
def test_a_completions_quick_check_answers_as_its_fields_do(which, item, settings):
    settings.QUEUE_MESSAGE_MAX_LENGTH = 50_000
    serializer_class = _quick_checked()[which]
    assert _answer(serializer_class, item) == _drf_answer(serializer_class, item)


@pytest.mark.parametrize("which", [0, 1])
def test_a_completions_quick_check_answers_as_its_fields_do_for_generated_items(which):
    from hypothesis import given, settings as hypothesis_settings, strategies as st

    serializer_class = _quick_checked()[which]
    text = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "#aabbcc", "#AABBC", "x" * 33, "bot-1"]))
    value = st.one_of(st.none(), st.booleans(), st.integers(), text)
    keys = ["id", "claim_token", "reply", "username", "color", "other"] if which == 0 else \
        ["worker_id", "claim_token", "reply", "username", "color", "next", "other"]
    items = st.dictionaries(st.sampled_from(keys), value)

    @hypothesis_settings(max_examples=300, derandomize=True, deadline=None)
    @given(items)
    def check(item):
        assert _answer(serializer_class, item) == _drf_answer(serializer_class, item)

    check()

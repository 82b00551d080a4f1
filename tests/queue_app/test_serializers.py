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


def _drf_answer(item):
    """What CompletionItemSerializer's fields alone answer: the value, or the errors."""
    from rest_framework import serializers

    from queue_app.serializers import CompletionItemSerializer

    try:
        return dict(serializers.Serializer.run_validation(CompletionItemSerializer(), item))
    except serializers.ValidationError as error:
        return error.detail


def _answer(item):
    from rest_framework import serializers

    from queue_app.serializers import CompletionItemSerializer

    try:
        return dict(CompletionItemSerializer().run_validation(item))
    except serializers.ValidationError as error:
        return error.detail


PLAIN = {"id": "abc", "claim_token": "t" * 32}
EDGES = [
    PLAIN, {**PLAIN, "reply": "Yes."}, {**PLAIN, "reply": None}, {**PLAIN, "reply": ""}, {**PLAIN, "reply": " padded "},
    {**PLAIN, "reply": "x" * 100_001}, {**PLAIN, "reply": "a\x00b"}, {**PLAIN, "reply": "\ud800"}, {**PLAIN, "reply": "é🙂"},
    {**PLAIN, "username": ""}, {**PLAIN, "username": " Bot"}, {**PLAIN, "username": "u" * 101}, {**PLAIN, "username": 5},
    {**PLAIN, "color": "#AAbb09"}, {**PLAIN, "color": "#aabbcc\n"}, {**PLAIN, "color": "red"}, {**PLAIN, "color": None},
    {"id": "abc"}, {**PLAIN, "id": ""}, {**PLAIN, "id": "x" * 11}, {**PLAIN, "id": 7}, {**PLAIN, "claim_token": "t" * 33},
    {**PLAIN, "extra": 1}, [], "abc", None, {**PLAIN, "reply": True},
]


@pytest.mark.parametrize("item", EDGES, ids=range(len(EDGES)))
def test_a_completions_quick_check_answers_as_its_fields_do(item, settings):
    settings.QUEUE_MESSAGE_MAX_LENGTH = 50_000
    assert _answer(item) == _drf_answer(item)


def test_a_completions_quick_check_answers_as_its_fields_do_for_generated_items():
    from hypothesis import given, settings as hypothesis_settings, strategies as st

    text = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "#aabbcc", "#AABBC", "x" * 33]))
    value = st.one_of(st.none(), st.booleans(), st.integers(), text)
    items = st.dictionaries(st.sampled_from(["id", "claim_token", "reply", "username", "color", "other"]), value)

    @hypothesis_settings(max_examples=300, derandomize=True, deadline=None)
    @given(items)
    def check(item):
        assert _answer(item) == _drf_answer(item)

    check()

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

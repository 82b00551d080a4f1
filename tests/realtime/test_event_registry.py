"""One registry of event types: publish() refuses the rest, docs/realtime.md lists the same."""

import re

import pytest

from project.realtime.events import EVENT_TYPE_FAMILIES, EVENT_TYPES
from project.realtime.models import Event
from project.realtime.services import publish, publish_many
from tests.conftest import BASE_DIR

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("event_type", ["message.create", "queue.message.nope", "custom.", "", "Message.created"])
def test_publish_refuses_a_type_outside_the_registry(alice, event_type):
    with pytest.raises(ValueError, match="not a registered event type"):
        publish(alice.group, event_type, {})
    with pytest.raises(ValueError):
        publish_many([(alice.group, "notification_count.changed", {}), (alice.group, event_type, {})])
    assert not Event.objects.exists()  # nothing half-published


def test_registered_types_and_families_are_published(alice):
    publish(alice.group, "notification_count.changed", {"unread": 0})
    publish(alice.group, "custom.cursor_moved", {})
    assert list(Event.objects.values_list("type", flat=True)) == ["notification_count.changed", "custom.cursor_moved"]


def test_the_docs_list_every_registered_type_and_no_other():
    section = (BASE_DIR / "docs" / "realtime.md").read_text().split("## Event types", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert documented == [*EVENT_TYPES, *(f"{prefix}<type>" for prefix in EVENT_TYPE_FAMILIES)]


def test_every_registered_type_is_a_resource_and_a_past_tense_verb():
    shape = re.compile(r"^[a-z]+(_[a-z]+)*\.[a-z]+ed$")  # queue_message.claimed, tenant_member.added
    assert [name for name in EVENT_TYPES if not shape.match(name)] == []
    assert all(re.match(r"^[a-z]+\.$", prefix) for prefix in EVENT_TYPE_FAMILIES)

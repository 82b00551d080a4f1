"""Events of a tenant's groups record their tenant (what webhooks follow); personal ones none."""

import re

import pytest

from project.realtime.events import EVENT_TYPE_FAMILIES, EVENT_TYPES, WEBHOOK_EVENT_FAMILIES, WEBHOOK_EVENT_TYPES
from project.realtime.models import Event
from tests.conftest import BASE_DIR
from workflows import services as workflows

pytestmark = pytest.mark.django_db


def test_a_tenants_events_carry_it_and_personal_ones_do_not(alice, acme, bob):
    Event.objects.all().delete()
    workflow = workflows.create_workflow(acme, alice, "Launch")
    by_type = {(e.type, e.group): e.tenant_id for e in Event.objects.all()}
    assert by_type[("workflow.created", workflow.group)] == acme.pk
    assert all(tenant is None for (_, group), tenant in by_type.items() if group.startswith(("user.", "access.")))


def test_member_events_carry_the_tenant_only_in_the_tenants_group(alice, acme, bob):
    rows = Event.objects.filter(type="tenant_member.added")
    assert {(row.group, row.tenant_id) for row in rows} == {(acme.group, acme.pk), (bob.group, None)}


def test_the_webhook_types_are_registered_and_documented_and_never_personal():
    assert set(WEBHOOK_EVENT_TYPES) <= set(EVENT_TYPES)
    assert set(WEBHOOK_EVENT_FAMILIES) <= set(EVENT_TYPE_FAMILIES)
    assert not {"access.changed", "read_state.updated", "notification.created", "notification_count.changed"} & set(WEBHOOK_EVENT_TYPES)
    section = (BASE_DIR / "docs" / "realtime.md").read_text().split("## Events that leave Harbor", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"`([a-z_]+\.[a-z_<>]+)`", section.split("of these types", 1)[1].split("Never", 1)[0])
    assert listed == [*WEBHOOK_EVENT_TYPES, *(f"{prefix}<type>" for prefix in WEBHOOK_EVENT_FAMILIES)]

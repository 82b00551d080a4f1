"""Endpoints read the event log only below its first young hole: on PostgreSQL an event may
commit after a later id is visible, and a cursor that passed it would never send it."""

from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from project.realtime.models import Event
from project.webhooks.delivery import horizon

pytestmark = pytest.mark.django_db


def event(pk, age=0.0):
    return Event.objects.create(id=pk, group="tenant.x", type="workflow.created",
                                created_at=timezone.now() - timedelta(seconds=age))


def test_a_young_hole_holds_the_horizon_and_an_old_one_does_not(settings):
    settings.WEBHOOK_GAP_GRACE_SECONDS = 5
    base = (Event.objects.aggregate(top=Max("id"))["top"] or 0) + 1000
    event(base, age=60)
    event(base + 1)
    event(base + 3)  # base + 2 is still committing, or was rolled back
    assert horizon() == base + 1
    Event.objects.filter(id=base + 3).update(created_at=timezone.now() - timedelta(seconds=6))
    Event.objects.filter(id=base + 1).update(created_at=timezone.now() - timedelta(seconds=6))
    assert horizon() == base + 3  # a hole older than the grace is a rolled-back insert


def test_without_recent_events_the_horizon_is_the_last_event(settings):
    base = (Event.objects.aggregate(top=Max("id"))["top"] or 0) + 1000
    event(base, age=60)
    event(base + 5, age=30)
    assert horizon() == base + 5

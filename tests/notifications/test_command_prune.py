from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from notifications import services
from notifications.models import Kind, Notification
from tests.conftest import run_manage

pytestmark = pytest.mark.django_db


@pytest.fixture
def aged(bob):
    """Two old read, one old unread and one recent notification."""
    rows = [services.notify([bob], Kind.QUEUE_REPLY, title=f"n{n}")[0] for n in range(4)]
    long_ago = timezone.now() - timedelta(days=120)
    Notification.objects.filter(pk__in=[row.pk for row in rows[:3]]).update(created_at=long_ago)
    services.mark_read(bob, [rows[0].pk, rows[1].pk])
    return rows


def prune(*args):
    out = StringIO()
    call_command("prune_notifications", *args, stdout=out)
    return out.getvalue()


def test_dry_run_counts_and_deletes_nothing(aged):
    assert prune("--older-than", "90d", "--dry-run") == "Would remove 3 notifications older than 90d (2 read, 1 unread).\n"
    assert Notification.objects.count() == 4


def test_it_removes_old_notifications_and_keeps_recent_ones(aged):
    assert prune("--older-than", "90d") == "Removed 3 notifications older than 90d (2 read, 1 unread).\n"
    assert list(Notification.objects.all()) == [aged[3]]


def test_a_longer_age_keeps_them(aged):
    assert prune("--older-than", "20w").startswith("Removed 0 notifications")
    assert Notification.objects.count() == 4


def test_a_bad_age_is_an_error_naming_the_option():
    with pytest.raises(CommandError, match="--older-than"):
        prune("--older-than", "three months")


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_bad_age():
    result = run_manage("prune_notifications", "--older-than", "-5d")
    assert result.returncode != 0
    assert "--older-than" in result.stderr

import pytest
from django.db import transaction

from notifications import services
from notifications.models import Kind, Notification
from project.realtime.models import Event

pytestmark = pytest.mark.django_db


def kinds_for(user):
    return list(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_it_stores_one_row_and_pushes_one_event_per_recipient(alice, bob, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.notify([bob, carol, bob], Kind.QUEUE_REPLY, title="A bot answered", body="42", link="/queue/")
    assert sorted(row.recipient_id for row in rows) == sorted([bob.pk, carol.pk])
    for user in (bob, carol):
        [event] = Event.objects.filter(group=f"user.{user.pk}", type="notification.created")
        assert event.data["unread"] == 1
        assert event.data["notification"]["title"] == "A bot answered"
        assert event.data["notification"]["id"] == str(Notification.objects.get(recipient=user).pk)


def test_the_pushed_unread_count_includes_earlier_unread_notifications_only(bob, carol):
    services.notify([bob, carol], Kind.QUEUE_REPLY, title="first")
    services.notify([bob], Kind.QUEUE_REPLY, title="second")
    services.mark_read(carol)
    services.notify([bob, carol], Kind.QUEUE_REPLY, title="third")
    latest = {
        event.group: event.data["unread"]
        for event in Event.objects.filter(type="notification.created").order_by("id")
    }
    assert latest == {f"user.{bob.pk}": 3, f"user.{carol.pk}": 1}
    assert services.unread_count(bob) == 3


def test_inactive_users_and_a_queryset_of_recipients(bob, carol, alice):
    from project.accounts.models import User

    carol.is_active = False
    carol.save()
    rows = services.notify(User.objects.filter(pk__in=[alice.pk, bob.pk, carol.pk]), Kind.QUEUE_REPLY, title="x", actor=alice)
    assert [row.recipient_id for row in rows] == [bob.pk]


def test_the_actor_is_never_notified_of_their_own_action(alice, bob):
    services.notify([alice, bob], Kind.QUEUE_REPLY, title="x", actor=alice)
    assert kinds_for(alice) == []
    assert kinds_for(bob) == [Kind.QUEUE_REPLY]


def test_a_kind_turned_off_gets_no_row_and_no_push(bob, carol):
    services.set_preferences(bob, {Kind.QUEUE_REPLY: False})
    services.notify([bob, carol], Kind.QUEUE_REPLY, title="x")
    services.notify([bob], Kind.SUBSCRIPTIONS_NEW_ITEMS, title="y")
    assert kinds_for(bob) == [Kind.SUBSCRIPTIONS_NEW_ITEMS]
    assert Event.objects.filter(group=f"user.{bob.pk}", type="notification.created").count() == 1
    assert kinds_for(carol) == [Kind.QUEUE_REPLY]


def test_inactive_users_are_not_notified(bob):
    bob.is_active = False
    bob.save()
    assert services.notify([bob], Kind.QUEUE_REPLY, title="x") == []


def test_an_unknown_kind_is_a_programming_error(bob):
    with pytest.raises(ValueError, match="Unknown notification kind"):
        services.notify([bob], "queue.replied", title="x")


@pytest.mark.parametrize("link", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_links_stay_inside_harbor(bob, link):
    with pytest.raises(ValueError, match="inside Harbor"):
        services.notify([bob], Kind.QUEUE_REPLY, title="x", link=link)


def test_a_rolled_back_change_notifies_nobody(bob):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.notify([bob], Kind.QUEUE_REPLY, title="x")
        raise RuntimeError("the change failed")
    assert not Notification.objects.exists()
    assert not Event.objects.filter(type="notification.created").exists()


def test_long_titles_and_bodies_are_cut_to_fit(bob):
    [row] = services.notify([bob], Kind.QUEUE_REPLY, title="t" * 500, body="b" * 5000)
    row.refresh_from_db()
    assert len(row.title) == 200 and row.title.endswith("…")
    assert len(row.body) == services.BODY_MAX_LENGTH


def test_notifying_many_users_costs_a_fixed_number_of_queries(django_assert_num_queries, bob, carol, alice):
    # recipients (active, not muted, unread so far), insert notifications, insert events
    with django_assert_num_queries(3):
        services.notify([alice, bob, carol], Kind.QUEUE_REPLY, title="x")

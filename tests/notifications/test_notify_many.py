import pytest

from notifications import services
from notifications.models import Kind, Notification
from notifications.services import NewNotification
from project.realtime.models import Event

pytestmark = pytest.mark.django_db


def test_it_raises_different_notifications_for_different_people_in_one_go(alice, bob, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.notify_many(
            [
                NewNotification(bob, Kind.QUEUE_REPLY, "To bob", body="42", link="/queue/"),
                NewNotification(carol.pk, Kind.WORKFLOW_MENTION, "To carol", payload={"workflow_id": 7}),
            ]
        )
    assert [(row.recipient_id, row.kind, row.title) for row in rows] == [
        (bob.pk, Kind.QUEUE_REPLY, "To bob"),
        (carol.pk, Kind.WORKFLOW_MENTION, "To carol"),
    ]
    [to_carol] = Event.objects.filter(group=f"user.{carol.pk}", type="notification.created")
    assert to_carol.data["notification"]["payload"] == {"workflow_id": 7}
    assert to_carol.data["unread"] == 1


def test_several_for_one_recipient_count_up_their_unread_number(bob):
    services.notify([bob], Kind.QUEUE_REPLY, title="earlier")
    services.notify_many([NewNotification(bob, Kind.QUEUE_REPLY, f"n{n}") for n in range(3)])
    pushed = list(Event.objects.filter(type="notification.created").order_by("id").values_list("data__unread", flat=True))
    assert pushed == [1, 2, 3, 4]
    assert services.unread_count(bob) == 4


def test_each_notification_follows_its_own_actor_kind_and_recipient(alice, bob, carol, mallory):
    services.set_preferences(bob, {Kind.QUEUE_REPLY: False})
    mallory.is_active = False
    mallory.save()
    rows = services.notify_many(
        [
            NewNotification(alice, Kind.QUEUE_REPLY, "alice's own action", actor=alice),
            NewNotification(alice, Kind.QUEUE_REPLY, "bob's action, to alice", actor=bob),
            NewNotification(bob, Kind.QUEUE_REPLY, "muted kind"),
            NewNotification(bob, Kind.WORKFLOW_MENTION, "another kind"),
            NewNotification(mallory, Kind.QUEUE_REPLY, "inactive"),
            NewNotification(carol, Kind.QUEUE_REPLY, "to carol", actor=alice),
        ]
    )
    assert [row.title for row in rows] == ["bob's action, to alice", "another kind", "to carol"]
    assert Notification.objects.count() == 3
    assert Event.objects.filter(type="notification.created").count() == 3


def test_nothing_to_raise_costs_no_query(bob, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert services.notify_many([]) == []


def test_a_bad_notification_anywhere_in_the_batch_raises_none(bob):
    with pytest.raises(ValueError, match="inside Harbor"):
        services.notify_many([NewNotification(bob, Kind.QUEUE_REPLY, "ok"), NewNotification(bob, Kind.QUEUE_REPLY, "x", link="//evil")])
    assert not Notification.objects.exists()


@pytest.mark.parametrize("count", [1, 10, 50])
def test_a_batch_costs_three_queries_whatever_its_size_and_kinds(alice, bob, carol, count, django_assert_num_queries):
    kinds = [Kind.QUEUE_REPLY, Kind.WORKFLOW_MENTION, Kind.SUBSCRIPTIONS_NEW_ITEMS]
    batch = [NewNotification([alice, bob, carol][n % 3], kinds[n % 3], f"n{n}") for n in range(count)]
    # targets (active, unread so far, muted kinds), insert notifications, insert events
    with django_assert_num_queries(3):
        assert len(services.notify_many(batch)) == count


def test_a_queryset_recipient_is_the_same_notification_to_each_of_its_users(alice, bob, carol, django_assert_num_queries):
    from project.accounts.models import User

    everyone = User.objects.filter(pk__in=[alice.pk, bob.pk, carol.pk])
    with django_assert_num_queries(3):
        rows = services.notify_many(
            [NewNotification(everyone, Kind.WORKFLOW_COMPLETED, "done", actor=alice), NewNotification(alice, Kind.QUEUE_REPLY, "yours")]
        )
    assert [(row.recipient_id, row.title) for row in rows] == [(bob.pk, "done"), (carol.pk, "done"), (alice.pk, "yours")]


def test_the_written_out_shape_is_the_serializers(bob, acme):
    """notification_data() is written out for speed: it must say exactly what the documented
    serializer says (the schema is generated from that), read or not, with a tenant or not."""
    from notifications.serializers import NotificationSerializer, notification_data

    services.notify_many([
        NewNotification(bob, Kind.QUEUE_REPLY, "In Acme", body="b", link="/queue/", payload={"n": [1, "x"]}, tenant_id=acme.pk),
        NewNotification(bob, Kind.WORKFLOW_MENTION, "Nowhere"),
    ])
    services.mark_read(bob, [Notification.objects.get(title="Nowhere").pk])
    rows = list(Notification.objects.filter(recipient=bob))
    assert {row.tenant_id is None for row in rows} == {True, False} and {row.read_at is None for row in rows} == {True, False}
    for row in rows:
        assert notification_data(row) == dict(NotificationSerializer(row).data)
    [event] = Event.objects.filter(type="notification.created", data__notification__title="In Acme")
    assert event.data["notification"] == notification_data(Notification.objects.get(title="In Acme"))

"""Clearing the list: one notification, or every one already read; the unread count follows."""

import pytest

from notifications import services
from notifications.models import Kind, Notification
from project.realtime.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(bob):
    notes = [services.notify([bob], Kind.QUEUE_REPLY, title=f"Reply {n}")[0] for n in range(3)]
    services.mark_read(bob, [notes[0].pk])
    return notes


def test_deleting_the_read_ones_keeps_the_unread(bob_api, bob, three):
    assert bob_api.delete("/api/notifications").status_code == 400  # a bulk delete says what it deletes
    response = bob_api.delete("/api/notifications?read=true")
    assert response.status_code == 200 and response.json() == {"deleted": 1}
    assert sorted(Notification.objects.filter(recipient=bob).values_list("title", flat=True)) == ["Reply 1", "Reply 2"]


def test_deleting_an_unread_one_lowers_the_count_in_every_tab(bob_api, bob, three):
    Event.objects.all().delete()
    assert bob_api.delete(f"/api/notifications/{three[2].pk}").status_code == 204
    assert Event.objects.get(group=bob.group, type="notification_count.changed").data == {"unread": 1}
    assert bob_api.delete(f"/api/notifications/{three[2].pk}").status_code == 404


def test_nobody_deletes_anothers(bob, three, mallory_api):
    assert mallory_api.delete(f"/api/notifications/{three[1].pk}").status_code == 404
    assert mallory_api.delete("/api/notifications?read=true").json() == {"deleted": 0}
    assert Notification.objects.filter(recipient=bob).count() == 3


def test_the_page_deletes_one_and_the_read_ones(client, bob, three):
    client.force_login(bob)
    page = client.get("/notifications/").text
    assert "Delete read ones" in page and page.count(">Delete<span") == 3
    client.post("/notifications/delete/", {"id": three[1].pk})
    response = client.post("/notifications/delete/", follow=True)
    assert "Deleted 1 read notification." in response.text
    assert list(Notification.objects.filter(recipient=bob).values_list("title", flat=True)) == ["Reply 2"]

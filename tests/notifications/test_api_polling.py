"""Polling the notification list: a 304 to `If-None-Match` while nothing changed, a new page
after anything that changes it (a new one, read, deleted), and never another user's page."""

import pytest

from notifications import services
from notifications.models import Kind

from ..conftest import bearer_client

pytestmark = pytest.mark.django_db


def poll(client, etag, url="/api/notifications"):
    return client.get(url, HTTP_IF_NONE_MATCH=etag)


@pytest.mark.parametrize("change", ["new", "read", "delete read", "delete unread"])
def test_every_change_makes_the_list_new(bob, carol, change, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, second = [services.notify([bob], Kind.QUEUE_REPLY, title=f"Reply {n}")[0] for n in range(2)]
        services.mark_read(bob, [first.pk])
    client = bearer_client(bob)
    etag = client.get("/api/notifications")["ETag"]
    assert poll(client, etag).status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        services.notify([carol], Kind.QUEUE_REPLY, title="Not Bob's")
    assert poll(client, etag).status_code == 304  # another user's change is not Bob's
    with django_capture_on_commit_callbacks(execute=True):
        if change == "new":
            services.notify([bob], Kind.QUEUE_REPLY, title="Reply 3")
        elif change == "read":
            services.mark_read(bob, [second.pk])
        elif change == "delete read":
            assert services.delete(bob) == 1
        else:
            services.delete(bob, [second.pk])
    fresh = poll(client, etag)
    assert fresh.status_code == 200 and fresh["ETag"] != etag
    assert poll(client, fresh["ETag"]).status_code == 304


def test_a_filtered_list_has_its_own_etag(bob):
    services.notify([bob], Kind.QUEUE_REPLY, title="Reply")
    client = bearer_client(bob)
    etag = client.get("/api/notifications")["ETag"]
    assert poll(client, etag, "/api/notifications?unread=true").status_code == 200
    assert poll(bearer_client(bob, "another device"), etag).status_code == 304  # the same user's page


def test_another_users_etag_is_a_full_page(bob, carol):
    etag = bearer_client(bob).get("/api/notifications")["ETag"]
    assert poll(bearer_client(carol), etag).status_code == 200

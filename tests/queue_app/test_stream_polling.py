"""Polling a queue stream: a 304 to `If-None-Match` while nothing changed; a post, a claim or a
completion makes the page new; a tenant's stream stays its members' (404, never a 304)."""

import pytest

from project.accounts import services as accounts
from project.accounts.models import Membership

from ..conftest import bearer_client
from .conftest import act, claim, post

pytestmark = pytest.mark.django_db


def poll(client, etag, url="/api/queue/messages"):
    return client.get(url, HTTP_IF_NONE_MATCH=etag)


def test_a_change_to_the_stream_makes_the_page_new(alice, robot_api, django_capture_on_commit_callbacks):
    client = bearer_client(alice)
    with django_capture_on_commit_callbacks(execute=True):
        asked = post(client, "hello")
    etag = client.get("/api/queue/messages")["ETag"]
    assert poll(client, etag).status_code == 304
    for change in ("claim", "complete"):
        with django_capture_on_commit_callbacks(execute=True):
            if change == "claim":
                claimed = claim(robot_api, asked["id"]).json()
            else:
                assert act(robot_api, "complete", claimed, reply="hi").status_code == 200
        fresh = poll(client, etag)
        assert fresh.status_code == 200 and fresh["ETag"] != etag, change
        etag = fresh["ETag"]
    assert poll(client, etag).status_code == 304


def test_a_tenants_stream_is_a_404_for_someone_who_left(alice, bob, acme, django_capture_on_commit_callbacks):
    url = f"/api/queue/messages?tenant_id={acme.pk}"
    client = bearer_client(bob)
    etag = client.get(url)["ETag"]
    assert poll(client, etag, url).status_code == 304
    with django_capture_on_commit_callbacks(execute=True):  # the commit that ends the right
        accounts.remove_member(acme, Membership.objects.get(user=alice, tenant=acme), bob.email)
    assert poll(client, etag, url).status_code == 404

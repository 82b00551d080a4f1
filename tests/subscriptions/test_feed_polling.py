"""Polling the feed: a 304 to `If-None-Match` while no item came or went (the feed has no events:
its version is the newest item and the count)."""

import pytest

from subscriptions import services
from subscriptions.poller import Poller

from .conftest import connect

pytestmark = pytest.mark.django_db


def poll(client, etag, url="/api/feed"):
    return client.get(url, HTTP_IF_NONE_MATCH=etag)


def test_new_and_removed_items_make_the_feed_new(alice, alice_api, mallory_api, fake):
    account = connect(alice, fake)
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    subscription = services.add_subscription(account, "spotify_show", "show1")
    Poller().run_once()
    etag = alice_api.get("/api/feed")["ETag"]
    assert poll(alice_api, etag).status_code == 304
    assert poll(mallory_api, etag).status_code == 200
    assert poll(alice_api, etag, "/api/feed?limit=1").status_code == 200

    fake.add_item("spotify_show", "show1", "ep2", "2026-11-02")
    alice_api.post("/api/subscriptions/poll-now")
    Poller().run_once()
    fresh = poll(alice_api, etag)
    assert fresh.status_code == 200 and [i["external_id"] for i in fresh.json()["results"]] == ["ep2", "ep1"]

    services.delete_subscription(subscription)
    emptied = poll(alice_api, fresh["ETag"])
    assert emptied.status_code == 200 and emptied.json()["results"] == []

"""The subscriptions REST API: your own things only, the error shape, no tokens anywhere."""

from datetime import UTC, datetime

import pytest

from subscriptions import services
from subscriptions.models import FeedItem, Subscription
from subscriptions.poller import Poller

from .conftest import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(alice, fake):
    return connect(alice, fake)


def test_create_list_and_delete_a_subscription(alice_api, account):
    created = alice_api.post("/api/subscriptions", {"account": account.pk, "kind": "spotify_show",
                                                    "external_id": "show1", "title": "A show"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["account"], body["provider"], body["kind"], body["enabled"]) == (account.pk, "spotify", "spotify_show",
                                                                                   True)
    listed = alice_api.get("/api/subscriptions").json()
    assert [s["id"] for s in listed["results"]] == [body["id"]]
    assert alice_api.patch(f"/api/subscriptions/{body['id']}", {"enabled": False}).json()["enabled"] is False
    assert alice_api.delete(f"/api/subscriptions/{body['id']}").status_code == 204
    assert not Subscription.objects.exists()


def test_bad_input_names_the_field(alice_api, account):
    wrong_kind = alice_api.post("/api/subscriptions", {"account": account.pk, "kind": "youtube_channel",
                                                       "external_id": "UCx"})
    assert wrong_kind.status_code == 400
    assert "kind" in wrong_kind.json()["error"]["fields"]
    missing = alice_api.post("/api/subscriptions", {"account": account.pk})
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"kind", "external_id"}
    payload = {"account": account.pk, "kind": "spotify_show", "external_id": "show1"}
    assert alice_api.post("/api/subscriptions", payload).status_code == 201
    again = alice_api.post("/api/subscriptions", payload)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_mallory_sees_and_touches_nothing_of_alice(alice_api, mallory_api, account):
    subscription = services.add_subscription(account, "spotify_show", "show1")
    assert mallory_api.get("/api/subscriptions").json()["results"] == []
    assert mallory_api.get("/api/subscriptions/accounts").json()["results"] == []
    assert mallory_api.get(f"/api/subscriptions/{subscription.pk}").status_code == 404
    assert mallory_api.delete(f"/api/subscriptions/{subscription.pk}").status_code == 404
    hijack = mallory_api.post("/api/subscriptions", {"account": account.pk, "kind": "spotify_show",
                                                     "external_id": "x"})
    assert hijack.status_code == 404
    assert Subscription.objects.count() == 1


def test_accounts_show_token_state_never_tokens(alice_api, account):
    response = alice_api.get("/api/subscriptions/accounts")
    assert response.status_code == 200
    (shown,) = response.json()["results"]
    assert shown["token_state"] == "present" and shown["status"] == "active"
    for secret in (account.access_token, account.refresh_token, account.access_token_encrypted,
                   account.refresh_token_encrypted):
        assert secret not in response.content.decode()
    assert not any("token" in key and key != "token_state" for key in shown)


def test_the_feed_is_newest_first_paginated_and_filtered_by_since(alice, alice_api, mallory_api, account, fake):
    for day in range(1, 6):
        fake.add_item("spotify_show", "show1", f"ep{day}", f"2026-11-0{day}")
    services.add_subscription(account, "spotify_show", "show1")
    Poller().run_once()
    page = alice_api.get("/api/feed?limit=2").json()
    assert [i["external_id"] for i in page["results"]] == ["ep5", "ep4"] and page["has_more"] is True
    rest = alice_api.get(f"/api/feed?cursor={page['next_cursor']}").json()
    assert [i["external_id"] for i in rest["results"]] == ["ep3", "ep2", "ep1"] and rest["has_more"] is False
    since = alice_api.get("/api/feed", {"since": "2026-11-03T00:00:00Z"}).json()
    assert [i["external_id"] for i in since["results"]] == ["ep5", "ep4"]
    assert mallory_api.get("/api/feed").json() == {"results": [], "next_cursor": None, "has_more": False}
    bad = alice_api.get("/api/feed?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.json()["error"]["fields"]
    assert FeedItem.objects.filter(published_at=datetime(2026, 11, 5, tzinfo=UTC)).count() == 1


def test_poll_now_makes_the_user_due_and_is_rate_limited(alice, alice_api, account):
    first = alice_api.post("/api/subscriptions/poll-now")
    assert first.status_code == 202
    assert Poller().due().filter(user=alice).exists()
    statuses = [alice_api.post("/api/subscriptions/poll-now").status_code for _ in range(6)]
    assert statuses[:5] == [202] * 5 and statuses[5] == 429  # 6 per hour
    assert alice_api.post("/api/subscriptions/poll-now").json()["error"]["code"] == "throttled"


def test_anonymous_callers_are_refused(api_client):
    assert api_client.get("/api/subscriptions").status_code in (401, 403)
    assert api_client.get("/api/feed").status_code in (401, 403)


def test_the_feed_pages_past_items_without_a_date(alice, alice_api, account, fake):
    for day in range(1, 4):
        fake.add_item("spotify_show", "show1", f"ep{day}", f"2026-11-0{day}")
    fake.add_item("spotify_show", "show1", "undated", "")
    services.add_subscription(account, "spotify_show", "show1")
    Poller().run_once()
    assert FeedItem.objects.filter(published_at__isnull=True).count() == 1
    seen, cursor = [], None
    while True:
        page = alice_api.get("/api/feed", {"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        seen += [i["external_id"] for i in page.json()["results"]]
        if not page.json()["has_more"]:
            break
        cursor = page.json()["next_cursor"]
    assert sorted(seen) == ["ep1", "ep2", "ep3", "undated"]

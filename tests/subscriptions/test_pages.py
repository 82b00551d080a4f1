"""The pages, with the real OAuth redirect flow through the fake provider."""

import pytest
import requests

from subscriptions import services
from subscriptions.models import FeedItem, ProviderAccount, Subscription
from subscriptions.poller import Poller

from .conftest import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def start_flow(client):
    """Click "Connect Spotify": our redirect to the provider, then its redirect back to us."""
    response = client.post("/subscriptions/connect/spotify/")
    assert response.status_code == 302
    authorize = response["Location"]
    answer = requests.get(authorize, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    return authorize, answer.headers["Location"]


def test_connecting_an_account_end_to_end(alice, alice_client, fake):
    fake.login_as("sp-alice")
    authorize, callback = start_flow(alice_client)
    assert "code_challenge_method=S256" in authorize and "state=" in authorize
    assert callback.startswith("http://testserver/subscriptions/callback/?code=")
    done = alice_client.get(callback.removeprefix("http://testserver"), follow=True)
    assert done.status_code == 200
    assert "Connected Spotify account “Spotify sp-alice”" in done.content.decode()
    account = ProviderAccount.objects.get(user=alice)
    assert (account.external_id, account.status) == ("sp-alice", "active")
    assert account.access_token in fake.access  # the token the provider issued, decrypted
    code_grant = fake.token_requests[0]
    assert code_grant["grant_type"] == "authorization_code" and code_grant["code_verifier"]
    assert "sp-alice" in alice_client.get("/subscriptions/accounts/").content.decode()


def test_a_callback_with_someone_elses_state_connects_nothing(alice, alice_client, fake):
    _, callback = start_flow(alice_client)
    forged = callback.replace("state=", "state=forged")
    page = alice_client.get(forged.removeprefix("http://testserver"), follow=True).content.decode()
    assert "did not connect (mismatching_state)" in page
    assert not ProviderAccount.objects.exists()
    assert [r for r in fake.token_requests] == []  # the code was never sent anywhere
    replay = alice_client.get(callback.removeprefix("http://testserver"), follow=True).content.decode()
    assert "link has expired" in replay  # the state was single use


def test_declining_consent_at_the_provider_says_so(alice_client, fake):
    start_flow(alice_client)
    page = alice_client.get("/subscriptions/callback/?error=access_denied&state=x", follow=True).content.decode()
    assert "You declined to connect Spotify, so nothing was connected." in page
    assert "expired" not in page
    assert not ProviderAccount.objects.exists()


def test_declining_a_second_time_still_says_declined_not_expired(alice_client, fake):
    """The consent screen left open in another tab: our session entry is gone by the second
    refusal, which is still the user's answer."""
    start_flow(alice_client)
    alice_client.get("/subscriptions/callback/?error=access_denied&state=x")
    page = alice_client.get("/subscriptions/callback/?error=access_denied", follow=True).content.decode()
    assert "You declined to connect" in page and "expired" not in page


@pytest.mark.parametrize(("error", "expected"), [
    ("temporarily_unavailable", "Spotify could not sign you in right now"),
    ("invalid_scope", "Spotify refused the sign-in request (invalid_scope)"),
    ("<script>", "Spotify refused the sign-in request, so nothing"),  # not echoed
])
def test_other_provider_errors_are_explained_without_echoing_the_query(alice_client, fake, error, expected):
    start_flow(alice_client)
    response = alice_client.get("/subscriptions/callback/", {"error": error, "error_description": "<b>x</b>"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and expected in page
    assert "<script>" not in page and "&lt;b&gt;" not in page
    assert not ProviderAccount.objects.exists()


def test_a_callback_without_code_or_error_is_an_error_not_a_crash(alice_client, fake):
    start_flow(alice_client)
    response = alice_client.get("/subscriptions/callback/?state=x", follow=True)
    assert response.status_code == 200 and "Spotify did not connect" in response.content.decode()


def test_disconnect_erases_the_tokens(alice, alice_client, fake):
    account = connect(alice, fake)
    response = alice_client.post(f"/subscriptions/accounts/{account.pk}/disconnect/", follow=True)
    assert "Disconnected" in response.content.decode()
    account.refresh_from_db()
    assert account.status == "disabled" and account.token_state == "missing"
    assert account.access_token_encrypted == "" and account.refresh_token_encrypted == ""


def test_subscribe_toggle_remove_and_read_the_feed(alice, alice_client, fake):
    account = connect(alice, fake)
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01", "Episode one")
    added = alice_client.post("/subscriptions/", {"account": account.pk, "kind": "spotify_show",
                                                  "external_id": "show1", "title": "My show"}, follow=True)
    assert "Subscribed." in added.content.decode()
    subscription = Subscription.objects.get()
    alice_client.post(f"/subscriptions/{subscription.pk}/toggle/")
    assert not Subscription.objects.get().enabled
    alice_client.post(f"/subscriptions/{subscription.pk}/toggle/")
    assert Subscription.objects.get().enabled
    Poller().run_once()
    feed = alice_client.get("/subscriptions/feed/").content.decode()
    assert "Episode one" in feed and "My show" in feed
    duplicate = alice_client.post("/subscriptions/", {"account": account.pk, "kind": "spotify_show",
                                                      "external_id": "show1"})
    assert duplicate.status_code == 409
    alice_client.post(f"/subscriptions/{subscription.pk}/delete/")
    assert not Subscription.objects.exists() and not FeedItem.objects.exists()


def test_mallory_cannot_touch_alices_things(alice, client, mallory, fake):
    account = connect(alice, fake)
    subscription = services.add_subscription(account, "spotify_show", "show1")
    client.force_login(mallory)
    assert client.post(f"/subscriptions/{subscription.pk}/toggle/").status_code == 404
    assert client.post(f"/subscriptions/accounts/{account.pk}/disconnect/").status_code == 404
    forged = client.post("/subscriptions/", {"account": account.pk, "kind": "spotify_show", "external_id": "x"})
    assert forged.status_code == 400  # not one of her accounts
    assert Subscription.objects.count() == 1

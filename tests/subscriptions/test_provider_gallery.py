"""The connected-accounts page's provider gallery and the connect page a GET of a connect link
shows. Without the `fake` fixture no provider has client credentials (the test settings')."""

import re

import pytest

from subscriptions.models import ProviderAccount

from .conftest import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def card(page: str, provider: str) -> str:
    match = re.search(rf'<li class="provider-card[^"]*" id="provider-{provider}".*?</li>', page, re.S)
    assert match, f"no {provider} card"
    return match.group(0)


def test_with_no_provider_configured_every_provider_is_shown_disabled_with_how_to_enable_it(alice_client):
    page = alice_client.get("/subscriptions/accounts/").content.decode()
    assert "docs/subscriptions.md" not in page
    spotify, youtube = card(page, "spotify"), card(page, "youtube")
    for html, label, prefix in ((spotify, "Spotify", "SPOTIFY"), (youtube, "YouTube", "YOUTUBE")):
        assert "provider-card-disabled" in html and "Not available on this server" in html
        assert f"<code>{prefix}_CLIENT_ID</code>" in html and f"<code>{prefix}_CLIENT_SECRET</code>" in html
        assert "<code>http://testserver/subscriptions/callback/</code>" in html
        assert re.search(rf"<button type=\"button\" disabled[^>]*>Connect {label}</button>", html)
        assert "<form" not in html  # nothing to submit


def test_a_configured_provider_has_a_connect_button_and_shows_the_connected_account(alice, alice_client, fake,
                                                                                      settings):
    settings.SUBSCRIPTION_PROVIDERS["youtube"]["client_secret"] = ""  # half configured is not configured
    connect(alice, fake, account_id="sp-alice")
    page = alice_client.get("/subscriptions/accounts/").content.decode()
    spotify, youtube = card(page, "spotify"), card(page, "youtube")
    assert 'action="/subscriptions/connect/spotify/"' in spotify and "disabled" not in spotify
    assert "Connected</span> as Spotify sp-alice" in spotify and "Connect another Spotify account" in spotify
    assert "provider-card-disabled" in youtube and "YOUTUBE_CLIENT_SECRET" in youtube


def test_opening_a_connect_link_shows_a_page_with_the_button_not_a_405(alice_client, fake):
    response = alice_client.get("/subscriptions/connect/spotify/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Connect Spotify</h1>" in page
    assert re.search(r'<form method="post" action="/subscriptions/connect/spotify/">.*Continue to Spotify', page, re.S)
    assert "subscriptions_connect" not in alice_client.session  # a GET starts no flow
    follow = alice_client.post("/subscriptions/connect/spotify/")
    assert follow.status_code == 302 and follow["Location"].startswith(fake.url)


def test_a_connect_link_to_an_unconfigured_provider_explains_instead_of_offering_a_button(alice_client):
    response = alice_client.get("/subscriptions/connect/youtube/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "YouTube is not available on this server yet" in page and "<code>YOUTUBE_CLIENT_ID</code>" in page
    assert "Continue to YouTube" not in page
    posted = alice_client.post("/subscriptions/connect/youtube/", follow=True).content.decode()
    assert "YouTube is not configured on this server." in posted
    assert not ProviderAccount.objects.exists()


def test_a_connect_link_to_an_unknown_provider_is_404(alice_client):
    assert alice_client.get("/subscriptions/connect/myspace/").status_code == 404
    posted = alice_client.post("/subscriptions/connect/myspace/", follow=True)
    assert posted.status_code == 200 and "Unknown provider" in posted.content.decode()


def test_other_methods_on_a_connect_link_are_refused(alice_client):
    assert alice_client.put("/subscriptions/connect/spotify/").status_code == 405


def test_the_connect_page_is_for_signed_in_users(client):
    response = client.get("/subscriptions/connect/spotify/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

"""Subscriptions tests run against FakeProvider: a real HTTP OAuth + API server on 127.0.0.1."""

import pytest
import requests

from subscriptions import services

from .fake_provider import FakeProvider

REDIRECT_URI = "http://testserver/subscriptions/callback/"


@pytest.fixture
def fake(settings):
    server = FakeProvider().start()
    settings.SUBSCRIPTION_PROVIDERS = server.settings_for("spotify", "youtube")
    # Outgoing calls fail fast in tests: one attempt unless a test asks for retries.
    settings.RETRY_MAX_ATTEMPTS = 1
    yield server
    server.stop()


def connect(user, fake: FakeProvider, provider: str = "spotify", account_id: str | None = None):
    """The real connect flow without the browser: authorization URL, the fake server's
    redirect with a code, then the callback's code exchange and profile read."""
    fake.login_as(account_id or f"{provider}-{user.pk}")
    url, state, verifier = services.start_connect(provider, REDIRECT_URI)
    callback = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    return services.complete_connect(user, provider, callback, state=state, verifier=verifier,
                                     redirect_uri=REDIRECT_URI)

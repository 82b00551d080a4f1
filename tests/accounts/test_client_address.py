"""Lockouts and throttles count per client address: REMOTE_ADDR, which a client cannot choose.
Behind the documented proxy (TRUST_X_FORWARDED_FOR=true, for gunicorn's workers) it is the
address the proxy appended last to X-Forwarded-For."""

import pytest
from django.test import override_settings

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db

BEHIND_PROXY = ["project.proxy.forwarded_for"]


def obtain_token(api_client, forwarded_for, password=PASSWORD):
    return api_client.post(
        "/api/auth/token", {"email": "alice@example.com", "password": password}, format="json",
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_a_forged_forwarded_for_does_not_escape_the_lockout(api_client, alice):
    for forged in ("198.51.100.1", "198.51.100.2"):
        assert obtain_token(api_client, forged, password="wrong").status_code == 401
    assert obtain_token(api_client, "198.51.100.3").status_code == 429


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_behind_the_proxy_the_lockout_counts_the_address_the_proxy_saw(api_client, alice, settings):
    settings.MIDDLEWARE = BEHIND_PROXY + settings.MIDDLEWARE
    # The client forged the first entry; the proxy appended the real address last.
    for _ in range(2):
        assert obtain_token(api_client, "10.0.0.1, 203.0.113.7", password="wrong").status_code == 401
    assert obtain_token(api_client, "10.0.0.1, 203.0.113.7").status_code == 429
    assert obtain_token(api_client, "10.0.0.1, 203.0.113.8").status_code == 201


def test_the_sign_in_throttle_ignores_a_forged_forwarded_for(api_client, settings):
    """30 sign-in attempts a minute per address (THROTTLE_AUTH), whatever X-Forwarded-For says."""
    from rest_framework.throttling import ScopedRateThrottle

    limit = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"])[0]
    statuses = [
        api_client.post("/api/auth/token", {"email": f"nobody{n}@example.com", "password": "x"}, format="json",
                        HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(limit + 1)
    ]
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429

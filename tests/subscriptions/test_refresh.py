"""Tokens are refreshed before they expire, one refresh per account at a time; a refused
refresh token marks the account needs_reauth."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from notifications.models import Notification
from subscriptions import services
from subscriptions.models import ProviderAccount
from tests.conftest import run_manage

from .conftest import connect


def refresh_grants(fake):
    return [r for r in fake.token_requests if r.get("grant_type") == "refresh_token"]


@pytest.mark.django_db
def test_a_fresh_token_is_used_as_is(alice, fake):
    account = connect(alice, fake)
    token = account.access_token
    assert services.fresh_access_token(account) == token
    assert refresh_grants(fake) == []


@pytest.mark.django_db
def test_a_token_about_to_expire_is_refreshed_before_use(alice, fake):
    fake.expires_in = 60  # inside the 300 s margin
    account = connect(alice, fake)
    old_access, old_refresh = account.access_token, account.refresh_token
    token = services.fresh_access_token(account)
    assert token != old_access and token in fake.access
    assert len(refresh_grants(fake)) == 1
    assert refresh_grants(fake)[0]["refresh_token"] == old_refresh
    stored = ProviderAccount.objects.get(pk=account.pk)
    assert stored.access_token == token
    assert stored.refresh_token != old_refresh  # the provider rotated it; we kept the new one
    assert stored.last_refresh_at is not None and stored.status == "active"


@pytest.mark.django_db
def test_invalid_grant_marks_the_account_needs_reauth_and_tells_the_user(alice, fake):
    fake.expires_in = 60
    account = connect(alice, fake)
    fake.refresh.clear()  # the provider revoked the grant
    with pytest.raises(services.NeedsReauth):
        services.fresh_access_token(account)
    stored = ProviderAccount.objects.get(pk=account.pk)
    assert stored.status == "needs_reauth"
    assert "connect the account again" in stored.last_error
    (notification,) = Notification.objects.filter(recipient=alice)
    assert (notification.kind, notification.title, notification.link) == (
        "subscriptions.account_error", "Reconnect your Spotify account", "/subscriptions/accounts/")
    with pytest.raises(services.NeedsReauth):  # and nobody tries the dead token again
        services.fresh_access_token(stored)
    assert len(refresh_grants(fake)) == 1


@pytest.mark.django_db
def test_a_long_invalid_grant_body_is_read_whole_and_is_permanent(alice, fake):
    import json

    fake.expires_in = 60
    account = connect(alice, fake)
    long_body = json.dumps({"error": "invalid_grant", "error_description": "The refresh token was revoked. " * 40})
    assert len(long_body) > 500
    fake.script("/token", 400, body=long_body.encode())
    with pytest.raises(services.NeedsReauth):
        services.fresh_access_token(account)
    assert ProviderAccount.objects.get(pk=account.pk).status == "needs_reauth"


@pytest.mark.django_db(transaction=True)
def test_concurrent_users_of_one_account_refresh_it_once(alice, fake):
    fake.expires_in = 60
    account = connect(alice, fake)
    fake.expires_in = 3600
    fake.token_delay = 0.3  # a slow token endpoint widens the race
    results, errors = [], []

    def use():
        try:
            results.append(services.fresh_access_token(ProviderAccount.objects.get(pk=account.pk)))
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(refresh_grants(fake)) == 1  # one refresh; the others re-read the row after the lock
    assert len(set(results)) == 1
    assert ProviderAccount.objects.get(pk=account.pk).status == "active"


@pytest.mark.django_db(transaction=True)
def test_refresh_tokens_command_refreshes_what_expires_soon(alice, bob, fake):
    fake.expires_in = 60
    expiring = connect(alice, fake)
    fake.expires_in = 3600
    lasting = connect(bob, fake)
    result = run_manage("refresh_tokens", **fake.env_for("spotify"))
    assert result.returncode == 0, result.stderr
    assert "Refreshed 1 tokens, 0 accounts need re-authorisation, 0 failed." in result.stdout
    expiring.refresh_from_db()
    assert expiring.expires_at > timezone.now() + timedelta(minutes=50)
    assert ProviderAccount.objects.get(pk=lasting.pk).last_refresh_at == lasting.last_refresh_at

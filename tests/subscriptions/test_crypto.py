"""Tokens at rest: MultiFernet with rotation, loud on a wrong key, never shown."""

import logging

import pytest
from cryptography.fernet import Fernet

from subscriptions import crypto
from subscriptions.models import ProviderAccount
from tests.conftest import run_manage

from .conftest import connect

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_round_trip_and_the_ciphertext_is_not_the_token(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    ciphertext = crypto.encrypt("secret-token")
    assert "secret-token" not in ciphertext
    assert crypto.decrypt(ciphertext) == "secret-token"
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""


def test_old_keys_still_decrypt_and_rotation_moves_to_the_first_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    ciphertext = crypto.encrypt("secret-token")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt(ciphertext) == "secret-token"
    rotated = crypto.rotate(ciphertext)
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert crypto.decrypt(rotated) == "secret-token"
    with pytest.raises(crypto.UndecryptableToken):
        crypto.decrypt(ciphertext)


def test_a_wrong_key_is_loud_not_silent(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    ciphertext = crypto.encrypt("secret-token")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.UndecryptableToken) as caught:
        crypto.decrypt(ciphertext)
    assert "secret-token" not in str(caught.value)


@pytest.mark.django_db(transaction=True)
def test_rotate_token_keys_reencrypts_every_account(alice, fake, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    account = connect(alice, fake)
    token = account.access_token
    result = run_manage("rotate_token_keys", FIELD_ENCRYPTION_KEYS=f"{NEW},{OLD}")
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted the tokens of 1 accounts" in result.stdout
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    account.refresh_from_db()
    assert account.access_token == token
    assert account.refresh_token.startswith("rt-")


@pytest.mark.django_db(transaction=True)
def test_rotate_token_keys_refuses_when_a_key_is_missing(alice, fake, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    connect(alice, fake)
    result = run_manage("rotate_token_keys", FIELD_ENCRYPTION_KEYS=NEW)
    assert result.returncode != 0
    assert "no key in FIELD_ENCRYPTION_KEYS decrypts" in result.stderr


def test_production_requires_keys_and_rejects_a_bad_one():
    missing = run_manage("check", FIELD_ENCRYPTION_KEYS="", DEBUG="false")
    assert missing.returncode != 0 and "FIELD_ENCRYPTION_KEYS must be set" in missing.stderr
    bad = run_manage("check", FIELD_ENCRYPTION_KEYS="not-a-key", DEBUG="false")
    assert bad.returncode != 0 and "key 1 is not a Fernet key" in bad.stderr
    assert run_manage("check", FIELD_ENCRYPTION_KEYS="", DEBUG="true").returncode == 0


@pytest.mark.django_db
def test_tokens_never_appear_in_repr_str_or_logs(alice, fake, caplog):
    with caplog.at_level(logging.DEBUG):
        account = connect(alice, fake)
    secrets = [account.access_token, account.refresh_token, account.access_token_encrypted,
               account.refresh_token_encrypted]
    shown = repr(account) + str(account) + caplog.text + repr(ProviderAccount.objects.all())
    for secret in secrets:
        assert secret not in shown

"""Encryption of OAuth tokens at rest: cryptography's MultiFernet over FIELD_ENCRYPTION_KEYS.

The first key encrypts, every key decrypts, so keys rotate without downtime: put the new key
first, run `manage.py rotate_token_keys`, then remove the old one. A ciphertext that no key
opens raises `UndecryptableToken`, never returns the ciphertext or an empty string: a wrong key
must be loud (django-fernet-encrypted-fields' silent fallback is why we do not use it).
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UndecryptableToken(Exception):
    """No key in FIELD_ENCRYPTION_KEYS opens this ciphertext (a key was removed too early)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    # Keyed by the key list, so a test's override_settings (or a reload) takes effect at once.
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """Ciphertext as text; the empty string stays empty (no token)."""
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise UndecryptableToken("no key in FIELD_ENCRYPTION_KEYS decrypts this token") from None


def rotate(ciphertext: str) -> str:
    """The same plaintext encrypted with the first key (raises UndecryptableToken like decrypt)."""
    if not ciphertext:
        return ""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise UndecryptableToken("no key in FIELD_ENCRYPTION_KEYS decrypts this token") from None

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_public_id(length: int = 12) -> str:
    """An opaque, non-sequential id of letters and digits (12 characters: 71 random bits).
    No punctuation, so it is safe in URLs, group names and command-line arguments."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))

import secrets


def new_public_id() -> str:
    """An opaque, URL-safe, non-sequential id (12 characters, 72 random bits)."""
    return secrets.token_urlsafe(9)

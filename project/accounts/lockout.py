"""Failed-login limiting shared by every way in with a password: counted and enforced by
project.accounts.backends.LockoutModelBackend.

Counts failures per (email, client address) in the cache, which is Redis in scale-out mode so
every process sees the same count. After LOGIN_FAILURE_LIMIT failures the pair is refused until
LOGIN_FAILURE_WINDOW seconds after the first failure; a success clears the count.

Requests that send an email about an address (a password reset, a new verification link) are
counted the same way under their own `kind`, so nobody can flood a mailbox from one address."""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache


LOGIN = "login-failures"
PASSWORD_RESET = "password-resets"
VERIFICATION = "verification-emails"


def _key(email: str, client: str, kind: str = LOGIN) -> str:
    digest = hashlib.sha256(f"{email.strip().lower()}|{client}".encode()).hexdigest()
    return f"{kind}:{digest}"


def client_address(request) -> str:
    # authenticate() may be called without a request (the test client's login(), a shell).
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def is_locked_out(email: str, client: str, kind: str = LOGIN) -> bool:
    return cache.get(_key(email, client, kind), 0) >= settings.LOGIN_FAILURE_LIMIT


def seconds_left(email: str, client: str, kind: str = LOGIN) -> int:
    """How long a lockout still lasts (the window from the first failure)."""
    until = cache.get(_key(email, client, kind) + ":until")
    return max(1, math.ceil(until - time.time())) if until else settings.LOGIN_FAILURE_WINDOW


def locked_out_message(email: str, client: str, kind: str = LOGIN) -> str:
    minutes = math.ceil(seconds_left(email, client, kind) / 60)
    what = "failed attempts" if kind == LOGIN else "requests"
    return f"Too many {what}; try again in {minutes} minute{'' if minutes == 1 else 's'}."


def record_failure(email: str, client: str, kind: str = LOGIN) -> None:
    key = _key(email, client, kind)
    if cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW):
        cache.set(key + ":until", time.time() + settings.LOGIN_FAILURE_WINDOW, timeout=settings.LOGIN_FAILURE_WINDOW)
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)


def clear_failures(email: str, client: str) -> None:
    cache.delete_many([_key(email, client), _key(email, client) + ":until"])

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import lockout


class LockoutModelBackend(ModelBackend):
    """Django's model backend behind the failed-login lockout, so that every way in with a
    password (the login page, the admin's, the token endpoint, `client.login`) counts failures
    in the same place and refuses a locked-out (email, client address) pair.

    PermissionDenied makes django.contrib.auth.authenticate() stop and return None without
    asking another backend; the forms and the token endpoint check the lockout first only to
    say why."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        email = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if email is None or password is None:
            return None
        client = lockout.client_address(request)
        if lockout.is_locked_out(email, client):
            raise PermissionDenied(lockout.locked_out_message(email, client))
        user = super().authenticate(request, username=email, password=password)
        if user is None:
            lockout.record_failure(email, client)
        else:
            lockout.clear_failures(email, client)
        return user

import hashlib
import logging

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from .consumers import query_param

logger = logging.getLogger(__name__)


def session_group(session_key: str) -> str:
    """The group a browser session's sockets join, so that logging out closes them.
    Hashed: the event log must never hold a usable session key."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


class TicketAuthMiddleware(BaseMiddleware):
    """Authenticates a socket by a single-use `?ticket=` (REST clients) instead of the session
    cookie (browsers). Sets scope["auth_group"], whose `auth.revoked` event closes the socket."""

    async def __call__(self, scope, receive, send):
        ticket = query_param(scope, "ticket")
        if ticket is not None:
            user, token = await _redeem(ticket)
            scope["user"] = user or AnonymousUser()
            scope["auth_group"] = token.group if token else None
        else:
            session = scope.get("session")
            user = scope.get("user")
            authenticated = user is not None and user.is_authenticated
            scope["auth_group"] = session_group(session.session_key) if authenticated and session and session.session_key else None
        return await super().__call__(scope, receive, send)


@database_sync_to_async
def _redeem(raw_ticket):
    from project.accounts.services import redeem_ws_ticket

    return redeem_ws_ticket(raw_ticket)


class LoggedOriginValidator(OriginValidator):
    """Channels' AllowedHostsOriginValidator, plus two things it lacks: it logs the origins it
    rejects (a wrong ALLOWED_HOSTS is otherwise invisible), and it lets a client that sends no
    Origin at all through when it presents a ticket: browsers always send Origin, so such a
    client is not a browser and carries no cookies a hostile page could ride on."""

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        if b"origin" not in headers and query_param(scope, "ticket") is not None:
            return await self.application(scope, receive, send)
        return await super().__call__(scope, receive, send)

    def valid_origin(self, parsed_origin):
        valid = super().valid_origin(parsed_origin)
        if not valid:
            origin = parsed_origin.geturl() if parsed_origin else None
            logger.warning("websocket origin rejected: %s", origin, extra={"origin": origin})
        return valid


def allowed_hosts_origin_validator(application):
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return LoggedOriginValidator(application, allowed_hosts)

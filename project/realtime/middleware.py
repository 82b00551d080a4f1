import logging
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from .consumers import query_param

logger = logging.getLogger(__name__)


class TicketAuthMiddleware(BaseMiddleware):
    """Authenticates a socket by a single-use `?ticket=` (REST clients) instead of the session
    cookie (browsers), and records what authenticated it in scope["credential"]: the socket
    checks it again whenever it is told that a right ended (project.realtime.consumers)."""

    async def __call__(self, scope, receive, send):
        from project.accounts.services import SocketCredential

        ticket = query_param(scope, "ticket")
        if ticket is not None:
            redeemed = await _redeem(ticket)
            scope["user"], scope["credential"] = redeemed or (AnonymousUser(), None)
        else:
            session, user = scope.get("session"), scope.get("user")
            authenticated = user is not None and user.is_authenticated and session and session.session_key
            scope["credential"] = SocketCredential(user.pk, session.session_key) if authenticated else None
        return await super().__call__(scope, receive, send)


@database_sync_to_async
def _redeem(raw_ticket):
    from project.accounts.services import redeem_ws_ticket

    return redeem_ws_ticket(raw_ticket)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


class SiteOriginValidator:
    """Accepts a socket only from this site's own pages, by Django's CSRF rule: the Origin is
    the request's own scheme and host (a host in ALLOWED_HOSTS, port included), or one of
    CSRF_TRUSTED_ORIGINS. Channels' AllowedHostsOriginValidator compares host names only, so
    `https://127.0.0.1` or `http://127.0.0.1:9999` passed for a site on `http://127.0.0.1:8000`.

    Rejections are logged (a wrong ALLOWED_HOSTS is otherwise invisible). A client that sends no
    Origin at all may connect with a ticket: browsers always send Origin, so such a client is
    not a browser and carries no cookies a hostile page could ride on."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        if origin is None and query_param(scope, "ticket") is not None:
            return await self.application(scope, receive, send)
        if origin is not None and self.allowed(scope, origin):
            return await self.application(scope, receive, send)
        logger.warning("websocket origin rejected: %s", origin, extra={"origin": origin, "path": scope.get("path")})
        return await WebsocketDenier()(scope, receive, send)

    @staticmethod
    def allowed(scope, origin: str) -> bool:
        host = _header(scope, b"host")
        if host is not None and validate_host(split_domain_port(host)[0], allowed_hosts()):
            if origin == f"{request_scheme(scope)}://{host}":
                return True
        if origin in settings.CSRF_TRUSTED_ORIGINS:
            return True
        try:
            parsed = urlsplit(origin)
        except ValueError:
            return False
        # CSRF_TRUSTED_ORIGINS may name subdomains: "https://*.example.com".
        return any(
            trusted.startswith(f"{parsed.scheme}://*") and is_same_domain(parsed.netloc, trusted.split("://*", 1)[1])
            for trusted in settings.CSRF_TRUSTED_ORIGINS
        )


def allowed_hosts() -> list[str]:
    """ALLOWED_HOSTS, or what Django itself allows with DEBUG and none set."""
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


def request_scheme(scope) -> str:
    """The page scheme a socket's Origin must carry: https for wss, or behind a TLS proxy that
    says so in SECURE_PROXY_SSL_HEADER (as `request.is_secure()` decides for HTTP)."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, value = proxy_header
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        if _header(scope, header) == value:
            return "https"
    return "https" if scope.get("scheme") == "wss" else "http"

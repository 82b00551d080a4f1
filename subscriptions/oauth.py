"""The OAuth 2 client side, per provider: Authlib for the protocol, our HttpClient for the wire.

Authlib's framework-neutral `OAuth2Client` builds the authorization URL (state, PKCE S256
challenge), the token request bodies and client authentication, and parses token responses and
OAuth errors. It sends through a "session" object of ours (`_Wire`), so the token endpoint gets
the same timeouts, retry and circuit breaker as every other outgoing call; Authlib's own
requests integration would bypass them with a bare requests.Session.
"""

from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from authlib.common.encoding import json_loads
from authlib.common.security import generate_token
from authlib.common.urls import url_encode
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.client import OAuth2Client

from project.resilience.http import HttpClient, HttpError

from .providers import Provider

__all__ = ["OAuth2Error", "Token", "authorization_url", "exchange_code", "refresh"]


class _ErrorResponse:
    """A 4xx from the token endpoint, shaped like the response Authlib reads its error from."""

    def __init__(self, error: HttpError):
        self.error = error
        self.status_code = error.status

    def json(self):
        # The whole body: a long error (an invalid_grant with a long description) cut at the
        # excerpt's 500 bytes is no JSON, and Authlib would read it as a transient failure.
        return json_loads(self.error.body)

    def raise_for_status(self):
        raise self.error


class _Wire:
    """The `session` Authlib's OAuth2Client posts through: our HttpClient."""

    def __init__(self, dependency: str, token_url: str, *, retry: bool):
        parts = urlsplit(token_url)
        self.client = HttpClient(dependency, urlunsplit((parts.scheme, parts.netloc, "", "", "")))
        self.retry = retry

    def post(self, url, data=None, headers=None, auth=None, **kwargs):
        parts = urlsplit(url)
        body = url_encode(list((data or {}).items()))
        headers = dict(headers or {})
        if auth is not None:  # Authlib's ClientAuth: basic header or client_secret_post body
            url, headers, body = auth.prepare("POST", url, headers, body)
            parts = urlsplit(url)
        path = urlunsplit(("", "", parts.path, parts.query, ""))
        try:
            # A code can be exchanged only once, so that POST is never retried. A refresh is:
            # a 5xx or 429 means the server did not rotate the token.
            return self.client.request("POST", path, data=body, headers=headers, idempotent=self.retry)
        except HttpError as error:
            if error.permanent:  # a 4xx carries the OAuth error (invalid_grant, ...) for Authlib
                return _ErrorResponse(error)
            raise
        finally:
            self.client.close()


def _client(provider: Provider, *, redirect_uri: str | None = None, retry: bool = False) -> OAuth2Client:
    config = provider.config
    return OAuth2Client(
        session=_Wire(provider.oauth_dependency, config["token_url"], retry=retry),
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        token_endpoint_auth_method=provider.token_endpoint_auth_method,
        scope=" ".join(config["scopes"]),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


class Token:
    """A token endpoint's answer, reduced to what we store. Never logged or repr'd with values."""

    def __init__(self, data: dict):
        self.access_token = data["access_token"]
        #: None when the provider kept the old refresh token (no rotation).
        self.refresh_token = data.get("refresh_token")
        expires_at = data.get("expires_at")
        self.expires_at = datetime.fromtimestamp(int(expires_at), UTC) if expires_at else None
        self.scopes = data.get("scope", "")

    def __repr__(self):
        return f"<Token expires_at={self.expires_at}>"


def authorization_url(provider: Provider, redirect_uri: str) -> tuple[str, str, str]:
    """(URL to send the browser to, state, PKCE code verifier); keep the last two in the session."""
    verifier = generate_token(64)
    url, state = _client(provider, redirect_uri=redirect_uri).create_authorization_url(
        provider.config["authorize_url"], code_verifier=verifier, **provider.authorize_params
    )
    return url, state, verifier


def exchange_code(provider: Provider, callback_url: str, *, state: str, verifier: str, redirect_uri: str) -> Token:
    """Checks the callback's state and swaps its code for tokens. Raises OAuth2Error (also for a
    state mismatch or a missing code), HttpError or CircuitOpen."""
    client = _client(provider, redirect_uri=redirect_uri)
    client.state = state
    return Token(client.fetch_token(provider.config["token_url"], authorization_response=callback_url,
                                    code_verifier=verifier))


def refresh(provider: Provider, refresh_token: str) -> Token:
    """Raises OAuth2Error (error="invalid_grant" when the refresh token is dead), HttpError or
    CircuitOpen."""
    client = _client(provider, retry=True)
    client.scope = None  # ask for the scopes already granted, not the configured ones
    return Token(client.refresh_token(provider.config["token_url"], refresh_token=refresh_token))

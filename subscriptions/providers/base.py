"""The small base class every provider implements, and the registry.

A provider turns one subscription into a page of `Item`s through our HttpClient (retry,
breaker, timeouts), with its base URL from settings so tests point it at a local server.
Errors are HttpError / CircuitOpen from the client, or ProviderError; all carry `permanent`."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from django.conf import settings

from project.resilience.breaker import DependencyError
from project.resilience.http import HttpClient


class ProviderError(DependencyError):
    """The provider answered something we cannot use. `permanent=True` disables the
    subscription (it will never work); False retries at the next poll."""

    def __init__(self, message: str, *, permanent: bool):
        self.permanent = permanent
        super().__init__(message)


@dataclass
class Item:
    external_id: str
    title: str = ""
    url: str = ""
    published_at: datetime | None = None
    raw: dict = field(default_factory=dict)

    def __post_init__(self):
        # The feed page links to it: only http(s), never a javascript: or data: URL a
        # provider's data might carry.
        if not self.url.lower().startswith(("https://", "http://")):
            self.url = ""


@dataclass
class FetchResult:
    items: list[Item]
    cursor: str = ""
    etag: str = ""
    not_modified: bool = False


class Provider(ABC):
    #: Registry key, stored in ProviderAccount.provider and the breaker's dependency name.
    name = ""
    label = ""
    #: Subscription kinds this provider polls.
    kinds: tuple[str, ...] = ()
    #: How Authlib authenticates us at the token endpoint.
    token_endpoint_auth_method = "client_secret_basic"
    #: Extra query parameters of the authorization URL (e.g. Google's access_type=offline).
    authorize_params: dict = {}
    #: Where an operator registers Harbor as an OAuth client (shown while it is not configured).
    console = ""

    @property
    def config(self) -> dict:
        return settings.SUBSCRIPTION_PROVIDERS[self.name]

    @property
    def configured(self) -> bool:
        """Whether this server has OAuth client credentials for the provider: without both,
        no one can connect an account (the token exchange would be refused)."""
        return bool(self.config["client_id"] and self.config["client_secret"])

    @property
    def credential_settings(self) -> tuple[str, str]:
        """The environment variables that configure the client (project/settings.py)."""
        prefix = self.name.upper()
        return f"{prefix}_CLIENT_ID", f"{prefix}_CLIENT_SECRET"

    @property
    def follows(self) -> str:
        """What one can follow on it, for people: "shows, artists and playlists"."""
        from ..models import Subscription

        labels = dict(Subscription.Kind.choices)
        things = [f"{labels[kind].removeprefix(self.label).strip().lower()}s" for kind in self.kinds]
        return " and ".join([", ".join(things[:-1]), things[-1]] if len(things) > 1 else things)

    @property
    def oauth_dependency(self) -> str:
        """Breaker name of the token endpoint, apart from the API's: an outage of one does not
        fail fast the other."""
        return f"{self.name}-oauth"

    def api_client(self) -> HttpClient:
        """A client for one poll (a requests Session is not thread-safe: one per thread)."""
        client = HttpClient(self.name, self.config["api_base_url"])
        read_environment_once(client.session, client.base_url)
        return client

    def get_json(self, client: HttpClient, path: str, access_token: str, *, params=None, etag: str = ""):
        """GET with the bearer token; returns (json or None on 304, response ETag)."""
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        response = client.request("GET", path, params=params, headers=headers)
        if response.status_code == 304:
            return None, etag
        try:
            return response.json(), response.headers.get("ETag", "")
        except ValueError:
            raise ProviderError(f"{self.name}: the answer is not JSON", permanent=False) from None

    @abstractmethod
    def fetch_profile(self, client: HttpClient, access_token: str) -> tuple[str, str]:
        """(external account id, display name) of the token's owner."""

    @abstractmethod
    def fetch(self, client: HttpClient, subscription, access_token: str) -> FetchResult:
        """The newest items of one subscription since its cursor/etag."""


def parse_date(value: str | None) -> datetime | None:
    """ISO 8601 timestamps, and Spotify's release dates of year, month or day precision."""
    if not value:
        return None
    text = value.strip()
    # fromisoformat first: it reads full dates and timestamps in C, where three strptime
    # patterns failing before it cost a poll more than parsing the rest of its page.
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    for pattern in ("%Y-%m-%d", "%Y-%m", "%Y") if parsed is None else ():
        try:
            parsed = datetime.strptime(text, pattern)
            break
        except ValueError:
            continue
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: What requests takes from the environment for a base URL (proxies, CA bundle), by base URL.
_environment: dict[str, dict] = {}


def read_environment_once(session: requests.Session, base_url: str) -> None:
    """Give `session` what requests would read from the environment for `base_url`, read once
    per process, and stop it reading again on every request. With `trust_env` on, each request
    scans every environment variable for proxy settings (twice) and looks for a ~/.netrc: a
    tenth of the poller's CPU (bench/poller.py), at three calls per user. The environment of a
    running process does not change, and our calls carry their own Authorization (which a
    .netrc entry would replace)."""
    settled = _environment.get(base_url)
    if settled is None:
        settled = _environment[base_url] = session.merge_environment_settings(base_url, {}, None, None, None)
    session.trust_env = False
    session.proxies.update(settled["proxies"])
    session.verify = settled["verify"]
    if settled["cert"] is not None:
        session.cert = settled["cert"]


_registry: dict[str, Provider] = {}


def register(cls: type[Provider]) -> type[Provider]:
    _registry[cls.name] = cls()
    return cls


def get_provider(name: str) -> Provider:
    """Raises KeyError for an unknown provider."""
    return _registry[name]


def providers() -> list[Provider]:
    return list(_registry.values())

"""The guard on addresses a tenant chooses for Harbor to call (a webhook endpoint, a tenant's
model base URL): without it, "register a webhook" or "test connection" would let any tenant
owner make the server request its own network (SSRF: the metadata service, Redis, an admin
port on loopback).

Two checks, because a name can resolve differently between saving a URL and calling it (or
between two lookups, DNS rebinding):

- `check_url(url)` when the URL is saved: an allowed scheme, a host, and every address the
  host resolves to public. Raises `OutboundAddressRefused` with a message for the user.
- at call time, the address actually connected to is checked again, after DNS resolution and
  before a byte is sent: `guarded_session()` (requests, Harbor's own outgoing HTTP) and
  `guarded_httpx2_client()` (the provider SDKs, which take an `http_client`). Neither reads
  proxy settings from the environment: through a proxy the peer would be the proxy.

`OUTBOUND_ALLOW_PRIVATE_ADDRESSES` lifts the address rule (tests with receivers on 127.0.0.1, a
deployment whose model server is on the private network); `OUTBOUND_ALLOW_HTTP` allows plain
http:// (on by default with `DEBUG`).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx2
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["OutboundAddressRefused", "address_allowed", "check_url", "guarded_httpx2_client", "guarded_session"]


class OutboundAddressRefused(ValueError):
    """A URL or a connection Harbor will not make; the message can be shown to the user."""


def address_allowed(address: str) -> bool:
    """Whether Harbor may connect to this IP address: a public unicast one, or any with
    `OUTBOUND_ALLOW_PRIVATE_ADDRESSES`."""
    if settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is loopback too
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> str:
    """Refuse a URL Harbor must not call; returns it unchanged when it may.

    Resolves the host (a blocking DNS lookup): call it where a URL is saved or tested, not on
    a hot path."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundAddressRefused("Enter a valid URL.") from exc
    allowed_schemes = {"https", "http"} if settings.OUTBOUND_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed_schemes:
        raise OutboundAddressRefused(
            "The URL must start with " + " or ".join(f"{scheme}://" for scheme in sorted(allowed_schemes, reverse=True)) + ".")
    host = parts.hostname
    if not host:
        raise OutboundAddressRefused("The URL has no host name.")
    if parts.username or parts.password:
        raise OutboundAddressRefused("Put credentials in a header or a secret, not in the URL.")
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundAddressRefused(f"The host name {host!r} does not resolve.") from exc
    for *_, sockaddr in infos:
        if not address_allowed(sockaddr[0]):
            raise OutboundAddressRefused(
                f"{host} resolves to a private or reserved address ({sockaddr[0]}); "
                "Harbor only calls public addresses.")
    return url


def _check_peer(sock: socket.socket) -> None:
    peer = sock.getpeername()[0]
    if not address_allowed(peer):
        sock.close()
        raise OutboundAddressRefused(f"Refused to connect to a private or reserved address ({peer}).")


# --- requests ---------------------------------------------------------------------------------

class _PeerChecked:
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def guarded_session() -> requests.Session:
    """A `requests.Session` that refuses to connect where `address_allowed` says no."""
    session = requests.Session()
    session.trust_env = False
    adapter = _GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- httpx2 (the provider SDKs) ---------------------------------------------------------------

class _GuardedNetworkBackend:
    """httpcore2's network backend, checking the peer of every TCP connection it opens."""

    def __init__(self, inner):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                         socket_options=socket_options)
        try:
            _check_peer(stream.get_extra_info("socket"))
        except OutboundAddressRefused:
            stream.close()
            raise
        return stream

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise OutboundAddressRefused("Refused to connect to a local socket.")

    def sleep(self, seconds):
        self._inner.sleep(seconds)


def guarded_httpx2_client(**kwargs) -> httpx2.Client:
    """An `httpx2.Client` (for an SDK's `http_client=`: the openai 3.x and anthropic 2.x SDKs are
    built on httpx2, the httpx fork, and anthropic refuses an `httpx.Client`) that refuses to
    connect where `address_allowed` says no. Keyword arguments go to `httpx2.Client`."""
    transport = httpx2.HTTPTransport()
    # httpx2 exposes no hook on the connect itself; its connection pool takes a network
    # backend, which is where the peer address is first known.
    pool = transport._pool
    pool._network_backend = _GuardedNetworkBackend(pool._network_backend)
    return httpx2.Client(transport=transport, trust_env=False, **kwargs)

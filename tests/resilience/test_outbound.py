"""The guard on URLs a tenant chooses: refused when saved, and again when connecting, before a
byte reaches the address (a local server counts what it received)."""

import pytest

from project.resilience.outbound import (
    OutboundAddressRefused, check_url, guarded_httpx2_client, guarded_session,
)

from .fake_server import fake_server  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def guarded(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    settings.OUTBOUND_ALLOW_HTTP = False


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook",
    "https://localhost:8443/hook",
    "https://10.1.2.3/",
    "https://192.168.0.10/",
    "https://172.16.5.4/",
    "https://100.64.0.1/",                 # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://0.0.0.0/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",          # loopback in IPv6 clothing
    "https://[fd00::1]/",
    "https://224.0.0.1/",
])
def test_private_and_reserved_addresses_are_refused(url):
    with pytest.raises(OutboundAddressRefused, match="private or reserved"):
        check_url(url)


@pytest.mark.parametrize("url, message", [
    ("http://93.184.215.14/", "must start with https://"),
    ("ftp://93.184.215.14/", "must start with https://"),
    ("https:///path", "no host"),
    ("https://user:secret@93.184.215.14/", "credentials"),
    ("https://harbor-test.invalid/", "does not resolve"),
    ("https://93.184.215.14:99999/", "valid URL"),
])
def test_malformed_urls_are_refused_with_a_reason(url, message):
    with pytest.raises(OutboundAddressRefused, match=message):
        check_url(url)


def test_a_public_address_is_accepted():
    assert check_url("https://93.184.215.14/hook") == "https://93.184.215.14/hook"


def test_http_and_private_addresses_when_the_settings_allow_them(settings, fake_server):  # noqa: F811
    settings.OUTBOUND_ALLOW_HTTP = True
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    assert check_url(fake_server.url) == fake_server.url


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_requests_refuses_at_connect_time_before_sending(fake_server, host):  # noqa: F811
    """As if the name had resolved to a public address when saved and to loopback now."""
    url = fake_server.url.replace("127.0.0.1", host) + "/hook"
    with guarded_session() as session, pytest.raises(OutboundAddressRefused):
        session.post(url, json={"x": 1}, timeout=5)
    assert fake_server.count == 0


def test_httpx2_refuses_at_connect_time_before_sending(fake_server):  # noqa: F811
    with guarded_httpx2_client(timeout=5) as client, pytest.raises(OutboundAddressRefused):
        client.post(fake_server.url.replace("127.0.0.1", "localhost") + "/v1/chat/completions", json={})
    assert fake_server.count == 0


def test_both_clients_connect_where_the_setting_allows(settings, fake_server):  # noqa: F811
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with guarded_session() as session:
        assert session.post(fake_server.url + "/hook", json={}, timeout=5).status_code == 200
    with guarded_httpx2_client(timeout=5) as client:
        assert client.get(fake_server.url + "/models").status_code == 200
    assert [path for _, path, _ in fake_server.received] == ["/hook", "/models"]

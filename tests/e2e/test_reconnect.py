"""A server goes away under an open page: the page says so, comes back by itself and shows
what was posted meanwhile."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, http_json

from .conftest import LIVE_MS, register, wait_live

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_restarted_server_loses_no_message(daphne_processes, server_env, open_browser):
    first, second = daphne_processes(2, env=server_env)
    alice = open_browser()
    register(alice, first.url, "alice@example.com", "Alice")
    status, token = http_json("POST", f"{first.url}/api/auth/token", {"email": "alice@example.com", "password": PASSWORD, "name": "e2e"})
    assert status == 201, token
    status, tenant = http_json("POST", f"{first.url}/api/tenants", {"name": "Acme"}, token=token["token"])
    assert status == 201, tenant
    status, workflow = http_json("POST", f"{first.url}/api/workflows", {"tenant_id": tenant["id"], "title": "Restart drill"}, token=token["token"])
    assert status == 201, workflow

    alice.goto(f"{first.url}/workflows/{workflow['id']}/")
    wait_live(alice)
    first.stop()
    expect(alice.locator("#connection")).to_have_attribute("data-state", "reconnecting", timeout=LIVE_MS)

    messages = f"{second.url}/api/workflows/{workflow['id']}/messages"
    for text in ("Posted while the server was down", "And another"):
        assert http_json("POST", messages, {"content": text}, token=token["token"])[0] == 201
    first.start()
    first.wait_until_healthy()

    expect(alice.locator("#connection")).to_have_attribute("data-state", "live", timeout=40_000)
    log = alice.locator("#messages")
    expect(log).to_contain_text("Posted while the server was down", timeout=LIVE_MS)
    expect(log).to_contain_text("And another")
    expect(log.locator("li")).to_have_count(2)

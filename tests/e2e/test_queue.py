"""The queue's stream page in a real browser: a message posted from the composer, answered by a
bot running in another process, shows up live, threaded under it, with the badges moving."""

import pytest
from playwright.sync_api import expect

from tests.conftest import run_manage

from .conftest import LIVE_MS, register, wait_live

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_bots_reply_arrives_live_under_the_message(server, open_browser):
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    page.get_by_role("link", name="Queue").click()
    wait_live(page)
    page.get_by_label("Text").fill("Hello, bots")
    page.get_by_label("Entity").fill("duke")
    page.get_by_role("main").get_by_role("button", name="Post").click()
    question = page.locator("#stream li").first
    expect(question.locator("[data-status]")).to_have_text("pending", timeout=LIVE_MS)
    assert page.url.endswith("/queue/")  # posted over the API, no reload

    result = run_manage("run_bot", "--once")  # another process, as in production
    assert result.returncode == 0, result.stderr

    reply = page.locator("#stream li", has_text="duke heard: Hello, bots")
    expect(reply).to_have_attribute("data-depth", "1", timeout=LIVE_MS * 2)
    expect(question.locator("[data-status]")).to_have_text("complete", timeout=LIVE_MS)
    items = page.locator("#stream li")
    expect(items).to_have_count(2)
    assert items.nth(1).get_attribute("data-depth") == "1"


def test_without_its_socket_the_page_polls_the_stream_from_its_cursor(server, open_browser):
    """The polling fallback: GET /api/queue/messages from the cursor the page was rendered with,
    then from each page's next_cursor, so what was posted meanwhile shows up once."""
    from project.accounts.models import User
    from queue_app import services

    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    alice = User.objects.get(email="alice@example.com")
    first = services.post_message(alice, "Rendered with the page")
    page.route_web_socket("**/ws/queue/**", lambda socket: socket.close(code=1011))  # the socket never comes up
    page.goto(f"{server.url}/queue/")
    expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")

    services.post_message(alice, "Posted while the socket is down", reply_to=first.pk)
    services.post_message(alice, "And another")

    items = page.locator("#stream li")
    expect(items).to_have_count(3, timeout=LIVE_MS * 5)  # the first poll comes after 5 s
    assert items.nth(1).inner_text().endswith("Posted while the socket is down")
    assert items.nth(1).get_attribute("data-depth") == "1"

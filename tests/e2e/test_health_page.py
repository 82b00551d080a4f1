"""The staff status page in a real browser, on a phone: each check in words and colours, a
queue without a bot and providers without credentials told apart from working, and a bot that
starts beating turning the queue green without a reload (and updates that can be paused)."""

import pytest
from playwright.sync_api import expect

from project.accounts.models import User
from project.workers.services import Heartbeat

from .conftest import AXE, PAGES_ONLY, register
from .test_accessibility import violations

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]

PHONE = {"width": 390, "height": 844}


def check(page, name):
    return page.locator("li.health-check").filter(has=page.locator(f'[id="check-{name}"]'))


def test_the_status_page_says_what_runs_and_what_is_not_set_up(server, open_browser):
    page = open_browser()
    register(page, server.url, "ops@example.com", "Ops")
    User.objects.filter(email="ops@example.com").update(is_staff=True)
    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/health/status/")

    expect(page.get_by_role("heading", name="All systems working")).to_be_visible()
    expect(check(page, "database").locator(".status")).to_have_text("Working")
    queue = check(page, "queue")
    expect(queue.locator(".status")).to_have_text("No bot running")
    expect(queue).to_contain_text("Nothing answers queue messages: start manage.py run_bot.")
    spotify = check(page, "subscriptions.spotify")
    expect(spotify.locator(".status")).to_have_text("Not configured")
    expect(spotify).to_contain_text("set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET")
    expect(check(page, "workers").locator(".status")).to_have_text("None running")

    def colour(locator):
        return locator.locator(".status").evaluate("element => getComputedStyle(element).backgroundColor")

    assert len({colour(check(page, "database")), colour(queue), colour(spotify)}) == 3
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"

    if AXE.exists():  # colours alone would fail the contrast rules
        assert violations(page) == []

    bot = Heartbeat("queue-bot")
    bot.beat("idle")  # the server's database: as if run_bot had started
    # No reload: the page fetches its report again every 10 seconds.
    expect(check(page, "queue").locator(".status")).to_have_text("Working", timeout=15_000)
    expect(check(page, "workers").locator(".status")).to_have_text("Working")

    pause = page.get_by_role("button", name="Pause updates")
    pause.click()
    expect(page.get_by_role("button", name="Resume updates")).to_have_attribute("aria-pressed", "true")
    bot.stop()
    page.get_by_role("button", name="Resume updates").click()  # resuming updates at once
    expect(check(page, "queue").locator(".status")).to_have_text("No bot running", timeout=5_000)

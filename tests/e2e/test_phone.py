"""Every main page on a phone (390 × 844): no sideways scroll, a header that leaves the screen
to the page, and a menu that opens behind one button. Screenshots: test-artifacts/e2e/phone-*."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, PAGES_ONLY, register, wait_live

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]

PHONE = {"width": 390, "height": 844}
#: The folded header: the name, the bell and the Menu button on one line.
HEADER_MAX_PX = 80


def test_every_main_page_fits_a_phone_and_the_menu_folds(server, open_browser):
    page = open_browser()
    page.set_viewport_size(PHONE)
    register(page, server.url, "ann@example.com", "Ann")
    page.goto(f"{server.url}/tenants/new/")
    page.get_by_label("Name").fill("Acme")
    page.get_by_role("main").get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Acme"))
    tenant_url = page.url
    # A pending invitation: its table has the widest rows, with two buttons.
    page.get_by_label("Email").fill("ben@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("button", name="Revoke the invitation of ben@example.com")).to_be_visible()
    page.goto(f"{server.url}/workflows/")
    page.get_by_label("Title").fill("A rather long workflow title that has to wrap on a phone screen")
    page.get_by_role("button", name="Create workflow").click()
    wait_live(page)  # Enter sends once the page's module has loaded
    page.locator("#composer textarea").fill("https://example.com/" + "a-very-long-unbroken-path" * 8)
    page.locator("#composer textarea").press("Enter")
    expect(page.locator("#messages")).to_contain_text("a-very-long-unbroken-path")
    workflow_url = page.url

    pages = {
        "home": f"{server.url}/",
        "workflows": f"{server.url}/workflows/",
        "workflow": workflow_url,
        "tenant": tenant_url,
        "notifications": f"{server.url}/notifications/",
        "preferences": f"{server.url}/notifications/preferences/",
        "queue": f"{server.url}/queue/",
        "feed": f"{server.url}/subscriptions/",
        "accounts": f"{server.url}/subscriptions/accounts/",
        "tokens": f"{server.url}/tokens/",
        "password": f"{server.url}/accounts/password/",
    }
    too_wide, too_tall = [], []
    for name, url in pages.items():
        page.goto(url)
        if page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]:
            too_wide.append(name)
        if page.locator(".site-header").bounding_box()["height"] > HEADER_MAX_PX:
            too_tall.append(name)
        page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
    assert too_wide == [], f"sideways scroll at 390 px: {too_wide}"
    assert too_tall == [], f"header taller than {HEADER_MAX_PX} px: {too_tall}"

    # The menu: folded, then open with every destination, then folded again.
    page.goto(pages["home"])
    menu = page.get_by_role("button", name="Menu")
    workflows_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows")
    expect(workflows_link).to_be_hidden()
    expect(page.locator("#notification-bell")).to_be_visible()  # the bell stays in sight
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(workflows_link).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "phone-menu-open.png"), full_page=True)
    workflows_link.click()
    expect(page).to_have_url(pages["workflows"])
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


def test_on_a_wide_screen_the_menu_is_simply_there(server, open_browser):
    page = open_browser()
    register(page, server.url, "ann@example.com", "Ann")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows")).to_be_visible()

"""The API tokens page in a real browser: a new token is shown once with a working Copy button,
reloading does not mint another, and on a phone (390 px) the list fits with Revoke on screen."""

import pytest
from playwright.sync_api import expect

from project.accounts.models import ApiToken

from .conftest import ARTIFACTS, PAGES_ONLY, register

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]

PHONE = {"width": 390, "height": 844}


def no_sideways_scroll(page):
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide"


def test_a_new_token_is_copied_with_one_click_and_a_reload_mints_no_second(server, open_browser):
    page = open_browser()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    register(page, server.url, "alice@example.com", "Alice")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_role("textbox", name="Name:").fill("laptop")
    page.get_by_role("button", name="Create token").click()

    expect(page.get_by_role("heading", name="Your new token “laptop”")).to_be_visible()
    secret = page.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("hbr_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status").filter(has_text="Token copied")).to_be_visible()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "tokens-new-token-copied.png", full_page=True)

    page.reload()
    expect(page.get_by_role("heading", name="Your tokens")).to_be_visible()
    expect(page.get_by_role("heading", name="Your new token “laptop”")).to_have_count(0)
    assert secret not in page.content()
    assert ApiToken.objects.filter(user__email="alice@example.com").count() == 1


def test_the_tokens_page_fits_a_phone_with_revoke_on_screen(server, open_browser):
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    page.goto(f"{server.url}/tokens/")
    for name in ["a deploy token with a rather long name", "ci"]:
        page.get_by_role("textbox", name="Name:").fill(name)
        page.get_by_label("Expires after (days)").fill("30")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_role("heading", name=f"Your new token “{name}”")).to_be_visible()

    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    revoke = page.get_by_role("button", name="Revoke ci")
    box = revoke.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(page.get_by_role("button", name="Copy")).to_be_in_viewport()

    revoke.click()
    expect(page.get_by_role("status").filter(has_text="Revoked the token “ci”.")).to_be_visible()
    no_sideways_scroll(page)


def test_a_bad_token_form_says_what_is_wrong(server, open_browser):
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/tokens/")
    name, days = page.get_by_role("textbox", name="Name:"), page.get_by_label("Expires after (days)")

    # The browser checks the bounds the form renders before anything is sent ...
    name.fill("ci")
    days.fill("9999")
    page.get_by_role("button", name="Create token").click()
    assert "3650" in days.evaluate("field => field.validationMessage")

    # ... and the server what the browser cannot: a name of spaces only.
    name.fill("   ")
    days.fill("")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator(".errorlist")).to_have_text("This field is required.")
    assert not ApiToken.objects.exists()
    no_sideways_scroll(page)

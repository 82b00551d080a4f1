"""A forgotten password, in a real browser: ask for a link, read the mail the outbox worker
delivered to a real SMTP server, follow the link, choose a password, sign in with it."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from .conftest import PAGES_ONLY, register

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]

NEW_PASSWORD = "a brand new passphrase 7"


def test_a_forgotten_password_is_reset_from_the_emailed_link(server, open_browser, smtp_server):
    page = open_browser()
    register(page, server.url, "ann@example.com", "Ann")
    expect(page.get_by_text("Please confirm your email address")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have been logged out.")).to_be_visible()

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    call_command("send_email")  # the worker, here in the test process, against the same database
    [mail] = [m for m in smtp_server.messages if m["Subject"] == "Reset your Harbor password"]
    [link] = re.findall(r"https?://\S+", mail.get_body(("plain",)).get_content())
    assert link.startswith(server.url)
    page.goto(link)
    page.get_by_label("New password:", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation:").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()

    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/")
    # Following the reset link proved the mailbox: no more banner.
    expect(page.get_by_text("Please confirm your email address")).to_have_count(0)

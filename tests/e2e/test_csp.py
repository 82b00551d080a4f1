"""Harbor's pages under its Content-Security-Policy in a real browser: what the policy refuses
is caught (and fails the test, conftest.Browsers), and the pages that run third-party code,
Swagger UI and Django's admin, work without a violation, as does what moved out of inline
styles."""

import pytest
from playwright.sync_api import expect

from project.accounts import services as accounts
from project.accounts.models import User
from queue_app import services as queue

from .conftest import LIVE_MS, PAGES_ONLY, register, wait_live

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]


def wait_for_violations(browsers, count, timeout_ms=2000):
    page = browsers.contexts[-1].pages[-1]
    for _ in range(timeout_ms // 50):
        if len(browsers.csp_violations) >= count:
            return
        page.wait_for_timeout(50)


def test_what_the_policy_refuses_is_caught(server, open_browser):
    page = open_browser()
    page.goto(f"{server.url}/accounts/login/")
    # page.evaluate itself is not subject to the policy, but what it adds to the page is.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true";
          document.body.append(script);
          document.body.insertAdjacentHTML("beforeend", '<p style="color: red">inline style</p>');
        }"""
    )
    wait_for_violations(open_browser, 4)  # each one as an event and as a console error
    assert page.evaluate("() => window.inlineRan") is None
    found = "\n".join(open_browser.csp_violations)
    assert "event: script-src-elem refused inline" in found
    assert "event: style-src-attr refused inline" in found
    assert "console: Executing inline script violates" in found
    assert "console: Applying inline style violates" in found
    open_browser.csp_violations.clear()  # caused on purpose: this test must not fail at teardown


def test_swagger_ui_works_under_the_policy(server, open_browser):
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    page.goto(f"{server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Harbor API")
    expect(page.locator(".opblock-summary-path", has_text="/api/auth/token").first).to_be_visible()
    page.locator(".opblock-summary-path", has_text="/api/tenants").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")


def test_the_admin_works_under_the_policy(server, open_browser):
    page = open_browser()
    # Registered through the server (this process hashes passwords with a test-only hasher).
    register(page, server.url, "staff@example.com", "Staff")
    User.objects.filter(email="staff@example.com").update(is_staff=True, is_superuser=True)
    staff = User.objects.get(email="staff@example.com")
    tenant = accounts.create_tenant(staff, "Acme")

    page.goto(f"{server.url}/admin/")  # the session is a staff one now
    expect(page.get_by_role("heading", name="Harbor administration", exact=True)).to_be_visible()

    # The admin's scripts ran: the two-box permission picker, the calendar links, the inline
    # rows' autocomplete (select2).
    page.goto(f"{server.url}/admin/accounts/user/{staff.pk}/change/")
    expect(page.locator("#id_user_permissions_from")).to_be_visible()
    page.locator(".datetimeshortcuts a", has_text="Today").first.click()
    page.goto(f"{server.url}/admin/accounts/tenant/{tenant.pk}/change/")
    page.locator(".select2-selection").first.click()
    expect(page.locator(".select2-results__option", has_text=staff.email)).to_be_visible()
    page.goto(f"{server.url}/admin/accounts/user/?q=staff")
    expect(page.locator("#result_list")).to_contain_text(staff.email)


def test_queue_names_keep_their_colour_and_replies_their_indent(server, open_browser):
    """Both were style attributes; now data attributes that harbor.css and queue.js apply, on the
    server-rendered page and on messages that arrive live."""
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    alice = User.objects.get(email="alice@example.com")
    question = queue.post_message(alice, "Rendered by the server", color="#aa3300")
    queue.post_message(alice, "A reply", reply_to=question.pk)
    page.goto(f"{server.url}/queue/")
    wait_live(page)
    queue.post_message(alice, "Arrived live", color="#0055aa", reply_to=question.pk)

    live = page.locator("#stream li", has_text="Arrived live")
    expect(live).to_have_attribute("data-depth", "1", timeout=LIVE_MS)
    items = page.locator("#stream li")
    expect(items.nth(0).locator("strong")).to_have_css("color", "rgb(170, 51, 0)")
    expect(live.locator("strong")).to_have_css("color", "rgb(0, 85, 170)")
    indent = [items.nth(n).evaluate("e => parseFloat(getComputedStyle(e).paddingLeft)") for n in range(3)]
    assert indent[0] < indent[1] == indent[2], indent

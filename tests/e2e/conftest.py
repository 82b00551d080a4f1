"""Browser end-to-end tests: Debian's Chromium driven by Playwright against real daphne
processes (production settings, collected static files, a file database).

The test process does not share the server's channel layer, so every change goes through the
UI or the server's API. Screenshots land in test-artifacts/e2e/. Pages run under Harbor's
Content-Security-Policy, and any violation fails the test that caused it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import BASE_DIR, PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
AXE = BASE_DIR / ".e2e" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = BASE_DIR / "test-artifacts" / "e2e"
#: How long a live update may take to show up.
LIVE_MS = 2000
#: Added to every document before its own scripts. Playwright injects it over CDP, which the
#: page's Content-Security-Policy does not govern; it reports each violation to the test.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.harborCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "?"} in ${event.documentURI}`
    + ` (${event.sourceFile || "?"}:${event.lineNumber}) ${event.sample}`.trimEnd()
  );
});
"""


#: For browser tests of pages alone (layout, accessibility, CSP, forms): the embedded leg runs
#: them; the PostgreSQL + Redis leg runs the live ones (collaboration, reconnect, the queue page).
PAGES_ONLY = pytest.mark.skipif(
    "sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="a page's own behaviour: the embedded leg runs it"
)


@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: bin/test installs Debian's chromium when it runs as root")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, and Django refuses ORM calls
    # from a thread with a running loop; the browser tests' own ORM calls are plain sync code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(scope="package")
def static_root(tmp_path_factory):
    """`collectstatic` once: the servers run with production settings (hashed static names)."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env={**os.environ, "STATIC_ROOT": str(root)},
        check=True,
    )
    return root


@pytest.fixture
def server_env(static_root, tmp_path):
    return {"STATIC_ROOT": str(static_root), "MEDIA_ROOT": str(tmp_path / "media"), "THROTTLE_USER": "100000/min"}


@pytest.fixture
def server(daphne_processes, server_env):
    return daphne_processes(1, env=server_env)[0]


class Browsers:
    """`open_browser()` → a page in a fresh context (a separate user's browser).
    `csp_violations` collects what the Content-Security-Policy refused on any of them: the DOM's
    securitypolicyviolation events, with the directive and source line, and Chromium's console
    errors, which also report violations that fire no event in the page (a refused frame)."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts = []
        self.csp_violations: list[str] = []

    def __call__(self):
        context = self.browser.new_context(viewport={"width": 1200, "height": 900})
        context.set_default_timeout(10_000)
        context.expose_binding("harborCspViolation", lambda _source, text: self.csp_violations.append(f"event: {text}"))
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("console", self._console)
        self.contexts.append(context)
        return context.new_page()

    def _console(self, message):
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(f"console: {message.text} {message.location.get('url') or ''}".rstrip())


@pytest.fixture
def open_browser(browser, request):
    """A `Browsers`. Each page is screenshotted at the end of the test, into
    test-artifacts/e2e/; a CSP violation on any of them fails the test."""
    browsers = Browsers(browser)
    yield browsers
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for n, context in enumerate(browsers.contexts):
        for m, page in enumerate(context.pages):
            if not page.is_closed():
                # Also a round trip that delivers the events still on their way.
                page.screenshot(path=ARTIFACTS / f"{request.node.name}-{n}-{m}.png", full_page=True)
        context.close()
    if browsers.csp_violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(browsers.csp_violations), pytrace=False)


def register(page, base_url: str, email: str, name: str):
    page.goto(f"{base_url}/accounts/register/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button").click()
    page.wait_for_url(f"{base_url}/")


def invite_and_join(owner, invitee, email: str, smtp_server):
    """On the tenant page open in `owner`, invite `email`; the email worker delivers the
    invitation (to the test's SMTP server) and `invitee`, signed in as `email`, joins from its link."""
    import re

    from django.core.management import call_command
    from playwright.sync_api import expect

    owner.get_by_role("main").get_by_label("Email").fill(email)
    owner.get_by_role("button", name="Send invitation").click()
    expect(owner.get_by_text(f"Invitation sent to {email}.")).to_be_visible()
    call_command("send_email")
    mail = [m for m in smtp_server.messages if m["To"] == email][-1]
    [link] = re.findall(r"https?://\S+", mail.get_body(("plain",)).get_content())
    invitee.goto(link)
    invitee.get_by_role("main").get_by_role("button", name=re.compile("^Join ")).click()
    expect(invitee.get_by_text("Welcome to")).to_be_visible()


def wait_live(page):
    page.locator("#connection[data-state=live]").wait_for(timeout=LIVE_MS * 3)

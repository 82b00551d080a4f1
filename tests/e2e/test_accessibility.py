"""Every page passes axe-core's WCAG 2 A/AA rules (labels, landmarks, contrast, …)."""

import pytest
from django.urls import reverse

from notifications.digests import unsubscribe_token
from project.accounts.models import User

from .conftest import AXE, PAGES_ONLY, register

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]

ANONYMOUS_PAGES = ["/accounts/login/", "/accounts/register/", "/no-such-page/", "/notifications/unsubscribe/not-a-token/"]
USER_PAGES = [
    "/",
    "/workflows/",
    "{workflow}",
    "/notifications/",
    "/notifications/preferences/",
    "/queue/",
    "/tenants/new/",
    "{tenant}",
    "/tokens/",
    "/accounts/password/",
    "/subscriptions/",
    "/subscriptions/accounts/",
    "/subscriptions/feed/",
    "{unsubscribe}",
]


def violations(page) -> list[str]:
    # Evaluated over CDP, which the page's Content-Security-Policy does not govern; a script tag
    # (page.add_script_tag) would be an inline script, refused by the policy.
    page.evaluate(AXE.read_text())
    result = page.evaluate("() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} → {[node['target'] for node in v['nodes']][:3]}"
        for v in result["violations"]
    ]


@pytest.fixture(autouse=True)
def axe_installed():
    if not AXE.exists():
        pytest.skip("axe-core is not installed: bin/test installs it with npm")


def test_every_page_passes_axe(server, open_browser):
    page = open_browser()
    found = {}
    for path in ANONYMOUS_PAGES:
        page.goto(f"{server.url}{path}")
        found[path] = violations(page)

    register(page, server.url, "alice@example.com", "Alice")
    page.goto(f"{server.url}/tenants/new/")
    page.get_by_label("Name").fill("Acme")
    page.get_by_role("main").get_by_role("button", name="Create").click()
    tenant = page.url.removeprefix(server.url)
    page.goto(f"{server.url}/workflows/")
    page.get_by_label("Title").fill("Accessible plan")
    page.get_by_role("button", name="Create workflow").click()
    page.locator("#composer textarea").fill("A first message")
    page.locator("#composer").get_by_role("button", name="Send").click()
    page.locator("#messages li").first.wait_for()
    workflow = page.url.removeprefix(server.url)
    unsubscribe = reverse("notification_unsubscribe", args=[unsubscribe_token(User.objects.get(email="alice@example.com"))])

    for path in USER_PAGES:
        path = path.format(workflow=workflow, tenant=tenant, unsubscribe=unsubscribe)
        page.goto(f"{server.url}{path}")
        found[path] = violations(page)
    assert {path: problems for path, problems in found.items() if problems} == {}


def test_the_check_finds_what_it_should(open_browser):
    page = open_browser()
    page.set_content("<html><body><input type=text><p style='color:#ccc;background:#fff'>faint</p></body></html>")
    ids = {problem.split(" ")[0] for problem in violations(page)}
    assert {"label", "color-contrast", "html-has-lang", "landmark-one-main"} <= ids

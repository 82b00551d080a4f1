"""Django admin in a real browser, on a phone: Harbor's branding, and the workflow messages'
own list, searched by text."""

import pytest
from playwright.sync_api import expect

from project.accounts import services as accounts
from project.accounts.models import User
from workflows import services as workflows
from workflows.access import get_workflow_access

from .conftest import PAGES_ONLY, register

pytestmark = [pytest.mark.django_db(transaction=True), PAGES_ONLY]

PHONE = {"width": 390, "height": 844}


def test_staff_search_every_workflows_messages_on_a_phone(server, open_browser):
    page = open_browser()
    register(page, server.url, "staff@example.com", "Staff")
    User.objects.filter(email="staff@example.com").update(is_staff=True, is_superuser=True)
    staff = User.objects.get(email="staff@example.com")
    tenant = accounts.create_tenant(staff, "Acme")
    workflow = workflows.create_workflow(tenant, staff, "Launch plan", [])
    access = get_workflow_access(staff, workflow.pk)
    workflows.post_message(access, "Kick-off on Monday")
    workflows.post_message(access, "Budget draft attached " + "with a long tail of words " * 6)

    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/admin/")
    expect(page.locator("#site-name")).to_have_text("Harbor administration")
    assert page.title() == "Harbor administration | Harbor admin"
    page.get_by_role("link", name="Messages", exact=True).click()

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    page.locator("#searchbar").fill("budget")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Budget draft attached")
    expect(rows.first).to_contain_text("Launch plan")
    expect(page.locator("#changelist")).not_to_contain_text("Kick-off on Monday")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the message list is {width} px wide"

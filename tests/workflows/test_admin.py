"""Django admin for workflows: Harbor's branding, and every workflow's messages in one
searchable, read-only list."""

import pytest

from workflows import services

from .conftest import access

pytestmark = pytest.mark.django_db

MESSAGES = "/admin/workflows/message/"


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root@example.com", "admin-pass-123")
    client.force_login(admin)
    return client


def test_the_admin_is_branded_harbor(staff_client, client):
    page = staff_client.get("/admin/").text
    assert "Harbor administration" in page
    assert "<title>Harbor administration | Harbor admin</title>" in page
    assert "Django administration" not in page
    staff_client.logout()
    assert "Harbor administration" in client.get("/admin/login/").text


def test_messages_have_a_list_of_their_own(staff_client, workflow, bob, erin):
    services.post_message(access(bob, workflow), "Kick-off on Monday")
    services.post_message(access(erin, workflow), "Budget draft attached")

    page = staff_client.get(MESSAGES)

    assert page.status_code == 200
    assert "Kick-off on Monday" in page.text and "Budget draft attached" in page.text
    assert "Launch plan" in page.text and "Acme" in page.text
    assert 'href="/admin/workflows/message/"' in staff_client.get("/admin/").text


@pytest.mark.parametrize(
    "query, found, missing",
    [
        ("budget", "Budget draft attached", "Kick-off on Monday"),
        ("bob@example.com", "Kick-off on Monday", "Budget draft attached"),
        ("Launch", "Kick-off on Monday", "Another thread"),
    ],
)
def test_the_message_list_searches_text_sender_and_workflow(
    staff_client, workflow, bob, erin, acme, query, found, missing
):
    services.post_message(access(bob, workflow), "Kick-off on Monday")
    services.post_message(access(erin, workflow), "Budget draft attached")
    other = services.create_workflow(acme, erin, "Hiring", [])
    services.post_message(access(erin, other), "Another thread")

    page = staff_client.get(MESSAGES, {"q": query}).text

    assert found in page and missing not in page


def test_the_message_list_finds_a_workflow_by_its_exact_id(staff_client, workflow, bob):
    services.post_message(access(bob, workflow), "Kick-off on Monday")
    assert "Kick-off on Monday" in staff_client.get(MESSAGES, {"q": workflow.pk}).text
    assert "Kick-off on Monday" not in staff_client.get(MESSAGES, {"q": workflow.pk[:-1]}).text


def test_the_message_list_filters_live_and_deleted_workflows(staff_client, workflow, bob, erin, acme):
    services.post_message(access(bob, workflow), "Kick-off on Monday")
    other = services.create_workflow(acme, erin, "Hiring", [])
    services.post_message(access(erin, other), "Another thread")
    services.delete_workflow(access(erin, other))

    live = staff_client.get(MESSAGES, {"workflow": "live"}).text
    deleted = staff_client.get(MESSAGES, {"workflow": "deleted"}).text

    assert "Kick-off on Monday" in live and "Another thread" not in live
    assert "Another thread" in deleted and "Kick-off on Monday" not in deleted


def test_a_long_message_is_shortened_in_the_list(staff_client, workflow, bob):
    services.post_message(access(bob, workflow), "word " * 100)
    page = staff_client.get(MESSAGES).text
    assert ("word " * 15).strip() in page and ("word " * 30) not in page


def test_messages_are_read_only_in_the_admin(staff_client, workflow, bob):
    message = services.post_message(access(bob, workflow), "Kick-off on Monday")
    assert staff_client.get(f"{MESSAGES}add/").status_code == 403
    assert staff_client.get(f"{MESSAGES}{message.pk}/delete/").status_code == 403
    page = staff_client.get(f"{MESSAGES}{message.pk}/change/")
    assert page.status_code == 200 and "Kick-off on Monday" in page.text
    assert 'name="_save"' not in page.text
    staff_client.post(f"{MESSAGES}{message.pk}/change/", {"content": "rewritten"})
    message.refresh_from_db()
    assert message.content == "Kick-off on Monday"


def test_the_message_list_does_not_query_per_row(staff_client, workflow, bob, erin, django_assert_max_num_queries):
    for n in range(20):
        services.post_message(access(bob if n % 2 else erin, workflow), f"message {n}")
    with django_assert_max_num_queries(12):
        assert staff_client.get(MESSAGES).status_code == 200

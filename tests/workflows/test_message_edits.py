"""Editing and deleting one's own message: the author only, live for everyone, in the history."""

import pytest

from project.realtime.models import Event
from workflows import services
from workflows.models import HistoryEvent, Message

from .conftest import access

pytestmark = pytest.mark.django_db


def message_url(workflow, message):
    return f"/api/workflows/{workflow.pk}/messages/{message.pk}"


@pytest.fixture
def message(workflow, erin):
    return services.post_message(access(erin, workflow), "Frist draft")


def test_the_author_edits_and_everyone_sees_it_edited(api_as, workflow, message):
    response = api_as("editor").patch(message_url(workflow, message), {"content": " First draft "}, format="json")
    assert response.status_code == 200
    edited = response.json()
    assert edited["content"] == "First draft" and edited["edited_at"] is not None and edited["deleted_at"] is None
    event = Event.objects.get(group=workflow.group, type="message.updated")
    assert event.data["message"] == edited
    assert api_as("viewer").get(f"/api/workflows/{workflow.pk}/messages").json()["results"] == [edited]
    assert HistoryEvent.objects.filter(workflow=workflow, event_type="message_edited", details__message_id=str(message.pk)).exists()


def test_the_author_deletes_and_the_message_keeps_its_place_without_content(api_as, workflow, message, bob):
    later = services.post_message(access(bob, workflow), "Reply")
    assert api_as("editor").delete(message_url(workflow, message)).status_code == 204
    listed = api_as("viewer").get(f"/api/workflows/{workflow.pk}/messages").json()["results"]
    assert [(m["id"], m["content"], bool(m["deleted_at"])) for m in listed] == [(str(message.pk), "", True), (str(later.pk), "Reply", False)]
    assert Event.objects.get(group=workflow.group, type="message.deleted").data["message"] == listed[0]
    # A deleted message is not unread, and cannot be edited or deleted again.
    assert api_as("viewer").get(f"/api/workflows/{workflow.pk}/read_state").json()["unread_count"] == 1
    assert api_as("editor").patch(message_url(workflow, message), {"content": "Back"}, format="json").status_code == 404
    assert api_as("editor").delete(message_url(workflow, message)).status_code == 404


@pytest.mark.parametrize(
    "caller, expected",
    [("initiator", 403), ("viewer", 403), ("tenant owner", 403), ("outsider in the tenant", 404), ("other tenant", 404)],
)
def test_nobody_else_edits_or_deletes_it(api_as, workflow, message, caller, expected):
    client = api_as(caller)
    assert client.patch(message_url(workflow, message), {"content": "Mine now"}, format="json").status_code == expected
    assert client.delete(message_url(workflow, message)).status_code == expected
    message.refresh_from_db()
    assert (message.content, message.edited_at, message.deleted_at) == ("Frist draft", None, None)


@pytest.mark.parametrize("body, field", [({"content": "   "}, "content"), ({"content": 5}, "content"), ({}, "content")])
def test_a_bad_edit_is_a_400_naming_the_field(api_as, workflow, message, body, field):
    response = api_as("editor").patch(message_url(workflow, message), body, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_no_such_message_is_a_404(api_as, workflow, acme, bob, erin):
    other = services.create_workflow(acme, bob, "Other", [(erin.email, "editor")])
    foreign = services.post_message(access(erin, other), "Elsewhere")
    for path in (message_url(workflow, foreign), f"/api/workflows/{workflow.pk}/messages/nope",
                 f"/api/workflows/{workflow.pk}/messages/{'9' * 30}"):  # more than a bigint holds
        assert api_as("editor").patch(path, {"content": "x"}, format="json").status_code == 404


def test_a_closed_workflow_keeps_its_messages_as_they_are(api_as, workflow, message, bob):
    services.set_status(access(bob, workflow), "completed")
    assert api_as("editor").patch(message_url(workflow, message), {"content": "Late"}, format="json").status_code == 409


def test_the_page_edits_and_deletes_without_javascript(client, workflow, message, erin, victor):
    client.force_login(erin)
    page = client.get(f"/workflows/{workflow.pk}/").text
    assert f'action="/workflows/{workflow.pk}/messages/{message.pk}/edit/"' in page
    response = client.post(f"/workflows/{workflow.pk}/messages/{message.pk}/edit/", {"content": "First draft"})
    assert response.status_code == 302 and response["Location"].endswith(f"#m-{message.pk}")
    assert "(edited)" in client.get(f"/workflows/{workflow.pk}/").text
    assert client.post(f"/workflows/{workflow.pk}/messages/{message.pk}/delete/").status_code == 302
    assert "This message was deleted." in client.get(f"/workflows/{workflow.pk}/").text
    # victor sees no controls on others' messages, and a forged post is refused.
    services.post_message(access(erin, workflow), "Another")
    client.force_login(victor)
    page = client.get(f"/workflows/{workflow.pk}/").text
    assert "data-own-message" not in page
    own = Message.objects.get(content="Another")
    assert client.post(f"/workflows/{workflow.pk}/messages/{own.pk}/delete/").status_code == 403
    client.force_login(erin)
    assert client.post(f"/workflows/{workflow.pk}/messages/999999/delete/").status_code == 404


def test_deleting_a_shared_files_message_removes_the_file(api_as, workflow, erin, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    shared = services.share_file(access(erin, workflow), SimpleUploadedFile("a.txt", b"secret", "text/plain"))
    media = shared.media_file
    storage, name = media.file.storage, media.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_as("editor").delete(message_url(workflow, shared)).status_code == 204
    assert not storage.exists(name)
    media.refresh_from_db()
    assert media.file.name == ""
    # Its message is no text to edit either way.
    text = services.post_message(access(erin, workflow), "words")
    assert api_as("editor").patch(message_url(workflow, text), {"content": "new words"}, format="json").status_code == 200


def test_the_page_mutes_and_marks_unread_from_a_message(client, workflow, bob, erin):
    first = services.post_message(access(bob, workflow), "One")
    services.post_message(access(bob, workflow), "Two")
    client.force_login(erin)
    page = client.get(f"/workflows/{workflow.pk}/").text
    assert page.count(">Mark unread</button>") == 2 and ">Mute</button>" in page
    response = client.post(f"/workflows/{workflow.pk}/read_state/", {"unread_from": first.pk}, follow=True)
    assert "is unread from that message on." in response.text
    assert "<span data-unread-count>2</span>" in response.text  # back on the list, both unread
    client.post(f"/workflows/{workflow.pk}/read_state/", {"muted": "true"})
    page = client.get(f"/workflows/{workflow.pk}/").text
    assert ">Unmute</button>" in page and '<span class="badge">muted</span>' in page
    from workflows import reading

    assert reading.total_unread(erin) == 0
    assert client.post(f"/workflows/{workflow.pk}/read_state/", {}).status_code == 400
    assert client.post(f"/workflows/{workflow.pk}/read_state/", {"unread_from": 999999}).status_code == 400

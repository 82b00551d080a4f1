"""The server-rendered workflow pages, driven like a browser without JavaScript would."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from project.accounts.context_processors import CURRENT_TENANT_SESSION_KEY
from project.realtime.models import Event
from workflows import services
from workflows.access import get_workflow_access
from workflows.models import Message, Workflow


pytestmark = pytest.mark.django_db

LIST = reverse("workflow_list")


@pytest.fixture
def workflow(acme, alice, bob):
    """Alice's workflow in Acme, with bob as an editor."""
    return services.create_workflow(acme, alice, "Quarterly review", [(bob.email, "editor")])


@pytest.fixture
def viewer_carol(carol, workflow, alice):
    services.add_participant(get_workflow_access(alice, workflow.pk), carol.email, "viewer")
    return carol


def url(name, workflow):
    return reverse(name, args=[workflow.pk])


def detail(client, workflow):
    return client.get(url("workflow_detail", workflow))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- List and create ------------------------------------------------------------------------


def test_the_list_shows_only_the_callers_workflows(client, workflow, mallory):
    own = services.create_workflow(mallory.memberships.get().tenant, mallory, "Mallory's plan")
    client.force_login(mallory)

    response = client.get(LIST)

    assert response.status_code == 200
    assert [w.pk for w in response.context["page"].object_list] == [own.pk]
    assert "Quarterly review" not in response.text
    assert url("workflow_detail", workflow) not in response.text


def test_the_list_links_each_workflow_with_its_tenant_and_status(client, workflow, alice):
    client.force_login(alice)

    response = client.get(LIST)

    assert f'<a href="{url("workflow_detail", workflow)}" class="workflow-row-title">Quarterly review</a>' in response.text
    assert "<span>Acme</span>" in response.text
    assert '<span class="status status-active" data-status-badge>Active</span>' in response.text


def test_the_list_puts_recent_activity_first_with_unread_counts_and_a_preview(client, workflow, alice, bob, acme):
    quiet = services.create_workflow(acme, alice, "Quiet one", [(bob.email, "editor")])
    services.post_message(get_workflow_access(bob, workflow.pk), "Numbers are in <b>early</b>")
    services.post_message(get_workflow_access(bob, workflow.pk), "Second")
    client.force_login(alice)
    page = client.get(LIST).text
    assert page.index("Quarterly review") < page.index("Quiet one")  # the latest message first
    assert '<span data-unread-count>2</span><span class="visually-hidden"> unread</span>' in page
    assert "<strong>Bob:</strong> Second" in page
    services.post_message(get_workflow_access(bob, quiet.pk), "Now me")
    page = client.get(LIST).text
    assert page.index("Quiet one") < page.index("Quarterly review")
    # Opening the workflow reads it.
    opened = client.get(url("workflow_detail", workflow)).text
    assert 'id="new-messages"' in opened and opened.index('id="new-messages"') < opened.index("Numbers are in")
    assert "&lt;b&gt;early&lt;/b&gt;" in opened
    page = client.get(LIST).text
    assert page.count("data-unread hidden") == 1 and "<span data-unread-count>1</span>" in page
    assert 'id="new-messages"' not in client.get(url("workflow_detail", workflow)).text


def test_a_mention_is_highlighted_and_escaped(client, workflow, alice, bob):
    services.post_message(get_workflow_access(bob, workflow.pk), "@**Alice** <script>x</script>")
    client.force_login(alice)
    page = client.get(url("workflow_detail", workflow)).text
    assert '<span class="mention">@Alice</span> &lt;script&gt;x&lt;/script&gt;' in page


def test_the_list_filters_by_status_and_tenant(client, workflow, alice, acme):
    completed = services.create_workflow(acme, alice, "Done already")
    services.set_status(get_workflow_access(alice, completed.pk), "completed")
    own_team = services.create_workflow(alice.memberships.exclude(tenant=acme).get().tenant, alice, "Private")
    client.force_login(alice)

    def listed(**query):
        return [w.pk for w in client.get(LIST, query).context["page"].object_list]

    assert listed() == [own_team.pk, completed.pk, workflow.pk]  # newest first
    assert listed(status="completed") == [completed.pk]
    assert listed(tenant=acme.pk) == [completed.pk, workflow.pk]
    assert listed(tenant=acme.pk, status="active") == [workflow.pk]
    assert listed(status="bogus") == [own_team.pk, completed.pk, workflow.pk]  # ignored, not an error


def test_the_list_is_paginated(client, alice, acme):
    for number in range(27):
        services.create_workflow(acme, alice, f"Workflow {number}")
    client.force_login(alice)

    first = client.get(LIST, {"tenant": acme.pk})
    second = client.get(LIST, {"tenant": acme.pk, "page": 2})

    assert len(first.context["page"].object_list) == 25
    assert f"?tenant={acme.pk}&amp;page=2" in first.text  # the filters survive paging
    assert [w.title for w in second.context["page"].object_list] == ["Workflow 1", "Workflow 0"]


def test_the_create_form_defaults_to_the_current_tenant(client, alice, acme):
    client.force_login(alice)
    session = client.session
    session[CURRENT_TENANT_SESSION_KEY] = acme.pk
    session.save()

    response = client.get(LIST)

    assert response.context["form"]["tenant"].value() == acme.pk
    assert f'<option value="{acme.pk}" selected>Acme</option>' in response.text


def test_it_creates_a_workflow_from_the_form_and_redirects_to_it(client, alice, acme, bob):
    client.force_login(alice)

    response = client.post(LIST, {"title": "Launch", "tenant": acme.pk, "participants": " BOB@example.com, "})

    workflow = Workflow.objects.get(title="Launch")
    assert response.status_code == 302
    assert response["Location"] == url("workflow_detail", workflow)
    assert workflow.tenant == acme and workflow.initiator == alice
    roles = dict(workflow.participants.values_list("user__email", "role"))
    assert roles == {"alice@example.com": "initiator", "bob@example.com": "editor"}


def test_it_shows_an_unknown_participant_on_the_create_form_and_creates_nothing(client, alice, acme, mallory):
    client.force_login(alice)

    response = client.post(LIST, {"title": "Launch", "tenant": acme.pk, "participants": mallory.email})

    assert response.status_code == 400
    assert "mallory@evil.example is not a member of this workflow&#x27;s tenant." in response.text
    assert response.context["form"].errors["participants"]
    assert not Workflow.objects.filter(title="Launch").exists()


def test_it_refuses_to_create_in_someone_elses_tenant(client, mallory, acme):
    client.force_login(mallory)

    response = client.post(LIST, {"title": "Sneaky", "tenant": acme.pk})

    assert response.status_code == 400
    assert response.context["form"].errors["tenant"]
    assert not Workflow.objects.filter(title="Sneaky").exists()


def test_anonymous_visitors_are_sent_to_log_in(client, workflow):
    for page in (LIST, url("workflow_detail", workflow)):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# --- Detail ---------------------------------------------------------------------------------


def test_the_detail_page_is_404_for_an_outsider(client, workflow, mallory):
    client.force_login(mallory)

    assert detail(client, workflow).status_code == 404
    assert client.post(url("workflow_post_message", workflow), {"content": "hi"}).status_code == 404
    assert client.post(url("workflow_delete", workflow), {"confirm": "on"}).status_code == 404
    assert not Message.objects.exists()
    assert Workflow.objects.visible().filter(pk=workflow.pk).exists()


def test_the_detail_page_hooks_up_the_live_updates(client, workflow, bob):
    services.post_message(get_workflow_access(bob, workflow.pk), "hello")
    latest = Event.objects.filter(group=workflow.group).latest("id").pk
    client.force_login(bob)

    response = detail(client, workflow)

    assert response.status_code == 200
    assert f'data-ws-path="/ws/workflow/{workflow.pk}/"' in response.text
    assert f'data-last-cursor="{latest}"' in response.text
    assert f'data-messages-api="/api/workflows/{workflow.pk}/messages"' in response.text
    assert '<script type="module" src="/static/js/workflow.js"></script>' in response.text
    assert re.search(r'id="connection"[^>]*role="status"[^>]*aria-live="polite"', response.text)


def test_messages_render_oldest_first_and_escaped(client, workflow, bob):
    access = get_workflow_access(bob, workflow.pk)
    services.post_message(access, "first")
    services.post_message(access, "<script>alert('x')</script>")
    client.force_login(bob)

    response = detail(client, workflow)

    assert "<script>alert(" not in response.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in response.text
    assert response.text.index("first") < response.text.index("&lt;script&gt;")


def test_the_page_shows_the_participants_and_the_history(client, workflow, alice, bob):
    client.force_login(alice)

    response = detail(client, workflow)

    assert [p.user.email for p in response.context["participants"]] == [alice.email, bob.email]
    assert 'aria-label="Remove bob@example.com"' in response.text
    history = [(e.event_type, e.performed_by.email) for e in response.context["history"]]
    assert history == [("created", alice.email), ("participant_added", alice.email)]
    assert "Participant Added · bob@example.com" in response.text


def test_the_detail_page_does_not_query_per_message_or_participant(
    client, workflow, alice, bob, carol, django_assert_num_queries
):
    client.force_login(alice)
    access = get_workflow_access(alice, workflow.pk)
    services.post_message(access, "one")
    with CaptureQueriesContext(connection) as few:
        detail(client, workflow)
    services.add_participant(access, carol.email, "viewer")
    for number in range(5):
        services.post_message(get_workflow_access(bob, workflow.pk), f"message {number}")
    with django_assert_num_queries(len(few.captured_queries)):
        detail(client, workflow)


# --- Messages and uploads -------------------------------------------------------------------


def test_posting_the_composer_creates_a_message_and_redirects_back(client, workflow, bob):
    client.force_login(bob)

    response = client.post(url("workflow_post_message", workflow), {"content": "  On it.  "})

    assert response.status_code == 302
    assert response["Location"] == url("workflow_detail", workflow) + "#composer"
    message = Message.objects.get(workflow=workflow)
    assert (message.sender, message.content) == (bob, "On it.")
    assert "On it." in client.get(response["Location"]).text


def test_an_empty_message_is_a_form_error(client, workflow, bob):
    client.force_login(bob)

    response = client.post(url("workflow_post_message", workflow), {"content": "   "})

    assert response.status_code == 400
    assert response.context["message_form"].errors["content"]
    assert not Message.objects.exists()


def test_a_viewer_sees_no_composer_and_cannot_post(client, workflow, viewer_carol):
    client.force_login(viewer_carol)

    page = detail(client, workflow)
    response = client.post(url("workflow_post_message", workflow), {"content": "let me in"})

    assert page.status_code == 200
    assert url("workflow_post_message", workflow) not in page.text
    assert url("workflow_upload", workflow) not in page.text
    assert "You can read this workflow but not post to it." in page.text
    assert response.status_code == 403
    assert "Your role in this workflow does not allow this" in response.text
    assert not Message.objects.exists()


def test_uploading_a_file_shows_its_share_link(client, workflow, bob, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(bob)
    upload = SimpleUploadedFile("notes <1>.txt", b"hello", content_type="text/plain")

    response = client.post(url("workflow_upload", workflow), {"file": upload})

    assert response.status_code == 302
    message = Message.objects.get(workflow=workflow, message_type="share_link")
    page = client.get(response["Location"])
    assert f'<a href="/share/{message.share_token}">notes &lt;1&gt;.txt</a>' in page.text


def test_a_refused_upload_is_a_form_error(client, workflow, bob, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(bob)
    upload = SimpleUploadedFile("run.sh", b"rm -rf /", content_type="application/x-sh")

    response = client.post(url("workflow_upload", workflow), {"file": upload})

    assert response.status_code == 400
    assert "Files of type application/x-sh are not accepted." in response.context["upload_form"].errors["file"]
    assert not Message.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


# --- Participants ---------------------------------------------------------------------------


def test_adding_a_participant_redirects_with_a_confirmation(client, workflow, bob, carol):
    client.force_login(bob)

    response = client.post(url("workflow_add_participant", workflow), {"email": carol.email, "role": "viewer"})

    assert response.status_code == 302
    assert workflow.participants.get(user=carol).role == "viewer"
    assert messages_of(client.get(response["Location"])) == ["Added carol@example.com as viewer."]


def test_an_unknown_participant_email_is_a_form_error_not_a_crash(client, workflow, alice, mallory):
    client.force_login(alice)

    response = client.post(url("workflow_add_participant", workflow), {"email": mallory.email, "role": "editor"})

    assert response.status_code == 400
    assert response.context["participant_form"].errors["email"] == [
        "mallory@evil.example is not a member of this workflow's tenant."
    ]
    assert not workflow.participants.filter(user=mallory).exists()


def test_adding_someone_twice_is_a_conflict(client, workflow, alice, bob):
    client.force_login(alice)

    response = client.post(url("workflow_add_participant", workflow), {"email": bob.email, "role": "viewer"})

    assert response.status_code == 409
    assert "bob@example.com already takes part in this workflow." in response.text


def test_removing_someone_who_is_not_a_participant_is_an_error(client, workflow, alice, carol):
    client.force_login(alice)

    response = client.post(url("workflow_remove_participant", workflow), {"email": carol.email})

    assert response.status_code == 400
    assert "Not a participant of this workflow." in response.text


def test_the_initiator_removes_a_participant(client, workflow, alice, bob):
    client.force_login(alice)

    response = client.post(url("workflow_remove_participant", workflow), {"email": bob.email})

    assert response.status_code == 302
    assert not workflow.participants.filter(user=bob).exists()


def test_an_editor_cannot_remove_others_but_may_leave(client, workflow, bob, viewer_carol):
    client.force_login(bob)

    page = detail(client, workflow)
    refused = client.post(url("workflow_remove_participant", workflow), {"email": viewer_carol.email})
    left = client.post(url("workflow_remove_participant", workflow), {"email": bob.email})

    assert 'aria-label="Remove carol@example.com"' not in page.text
    assert ">Leave</button>" in page.text
    assert refused.status_code == 403
    assert workflow.participants.filter(user=viewer_carol).exists()
    assert left.status_code == 302 and left["Location"] == LIST
    assert not workflow.participants.filter(user=bob).exists()
    assert detail(client, workflow).status_code == 404


# --- Status and delete ----------------------------------------------------------------------


def test_completing_shows_the_status_and_removes_the_composer(client, workflow, alice):
    client.force_login(alice)
    assert url("workflow_post_message", workflow) in detail(client, workflow).text

    response = client.post(url("workflow_change_status", workflow), {"status": "completed"})

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert '<span class="status status-completed" data-status-badge>Completed</span>' in page.text
    assert url("workflow_post_message", workflow) not in page.text
    assert "This workflow is completed; it takes no new messages." in page.text
    assert 'name="status" value="active"' in page.text
    workflow.refresh_from_db()
    assert workflow.status == "completed" and workflow.completed_by == alice


def test_posting_to_a_completed_workflow_is_a_conflict(client, workflow, alice, bob):
    services.set_status(get_workflow_access(alice, workflow.pk), "completed")
    client.force_login(bob)

    response = client.post(url("workflow_post_message", workflow), {"content": "late"})

    assert response.status_code == 409
    assert "This workflow is completed; it takes no new messages." in response.text
    assert not Message.objects.exists()


def test_only_managers_see_and_use_the_status_buttons(client, workflow, bob):
    client.force_login(bob)

    page = detail(client, workflow)
    response = client.post(url("workflow_change_status", workflow), {"status": "completed"})

    assert url("workflow_change_status", workflow) not in page.text
    assert url("workflow_delete", workflow) not in page.text
    assert response.status_code == 403
    workflow.refresh_from_db()
    assert workflow.status == "active"


def test_deleting_needs_the_confirmation(client, workflow, alice):
    client.force_login(alice)

    response = client.post(url("workflow_delete", workflow))

    assert response.status_code == 400
    assert response.context["delete_form"].errors["confirm"]
    assert Workflow.objects.visible().filter(pk=workflow.pk).exists()


def test_deleting_hides_the_workflow_from_the_list(client, workflow, alice):
    client.force_login(alice)

    response = client.post(url("workflow_delete", workflow), {"confirm": "on"})

    assert response.status_code == 302
    assert response["Location"] == LIST
    listing = client.get(LIST)
    assert messages_of(listing) == ["Deleted “Quarterly review”."]
    assert list(listing.context["page"].object_list) == []
    assert detail(client, workflow).status_code == 404
    assert Workflow.objects.get(pk=workflow.pk).deleted_by == alice  # kept for the audit trail


def test_home_shows_what_needs_you(client, workflow, alice, bob, acme, django_capture_on_commit_callbacks):
    client.force_login(alice)
    assert "You are all caught up." in client.get(reverse("home")).text
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(get_workflow_access(bob, workflow.pk), "Numbers?")
        services.post_message(get_workflow_access(bob, workflow.pk), "@**Alice** please look at the numbers")
    home = client.get(reverse("home")).text
    assert "2 unread messages in 1 workflow below." in home
    assert "Bob mentioned you in “Quarterly review”" in home
    assert f'data-workflow-id="{workflow.pk}"' in home and "<span data-unread-count>2</span>" in home
    assert '<a href="/tenants/' in home  # the tenants, further down
    # Opening the workflow reads it.
    client.get(url("workflow_detail", workflow))
    assert "You are all caught up." in client.get(reverse("home")).text


def test_the_thread_scrolls_back_through_history(client, workflow, alice, bob, settings):
    from workflows import views

    writer = get_workflow_access(bob, workflow.pk)
    ids = [services.post_message(writer, f"Message {n}").pk for n in range(views.MESSAGES_SHOWN + 30)]
    client.force_login(alice)
    page = client.get(url("workflow_detail", workflow)).text
    assert "Message 29<" not in page and "Message 30<" in page and 'id="load-earlier"' in page
    earlier = client.get(reverse("workflow_earlier_messages", args=[workflow.pk]), {"before": ids[30]})
    assert earlier.status_code == 200 and "X-Earlier" not in earlier
    assert earlier.text.index("Message 0<") < earlier.text.index("Message 29<") and "Message 30<" not in earlier.text
    # Without JavaScript the link opens the page at that point.
    back = client.get(url("workflow_detail", workflow), {"before": ids[30]}).text
    assert "Message 0<" in back and "Message 30<" not in back
    assert client.get(reverse("workflow_earlier_messages", args=[workflow.pk]), {"before": "x"}).status_code == 400
    assert client.get(reverse("workflow_earlier_messages", args=[workflow.pk])).status_code == 400

"""Read cursors (workflows/reading.py): unread counts per workflow and in total come from each
participant's last-read message, posting writes nothing per participant, and moving a cursor
reaches the user's own sockets as `read_state.updated`."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from project.realtime.models import Event
from workflows import reading, services

from .conftest import access, acme_member

pytestmark = pytest.mark.django_db


def state(client, workflow):
    return client.get(f"/api/workflows/{workflow.pk}/read_state").json()


def post(user, workflow, text="Hello"):
    return services.post_message(access(user, workflow), text)


def test_others_messages_are_unread_until_the_cursor_passes_them(api_as, workflow, bob, erin):
    first, second = post(bob, workflow, "One"), post(bob, workflow, "Two")
    post(erin, workflow, "My own")  # one's own messages are never unread
    assert state(api_as("editor"), workflow) == {
        "workflow_id": workflow.pk, "last_read_message_id": None, "unread_count": 2, "muted": False,
    }
    moved = api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", {"last_read_message_id": str(first.pk)}, format="json")
    assert moved.status_code == 200 and moved.json()["unread_count"] == 1
    # Mark as unread: the cursor moves back (null: nothing read).
    back = api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", {"last_read_message_id": None}, format="json")
    assert back.json()["unread_count"] == 2
    api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", {"last_read_message_id": str(second.pk)}, format="json")
    assert state(api_as("editor"), workflow)["unread_count"] == 0
    # victor has read nothing; bob wrote both.
    assert state(api_as("viewer"), workflow)["unread_count"] == 3
    assert state(api_as("initiator"), workflow)["unread_count"] == 1


def test_posting_writes_no_row_and_no_event_per_participant(workflow, bob, acme, alice, django_capture_on_commit_callbacks):
    def cost_of_a_post(target):
        Event.objects.all().delete()
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            post(bob, target, "To everyone")
        assert list(Event.objects.values_list("group", "type")) == [(target.group, "message.created")]
        return len(queries)

    crowd = [acme_member(acme, alice, f"p{n}@example.com").email for n in range(20)]
    big = services.create_workflow(acme, bob, "Everyone", [(email, "editor") for email in crowd])
    assert cost_of_a_post(big) == cost_of_a_post(workflow)
    assert not Notification.objects.filter(kind__startswith="workflow.m").exists()


def test_moving_the_cursor_tells_the_users_sockets_with_the_total(api_as, workflow, bob, erin, acme):
    other = services.create_workflow(acme, bob, "Second", [(erin.email, "editor")])
    message = post(bob, workflow)
    post(bob, other)
    post(bob, other)
    api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", {"last_read_message_id": str(message.pk)}, format="json")
    event = Event.objects.get(group=erin.group, type="read_state.updated")
    assert event.data == {"read_state": state(api_as("editor"), workflow), "total_unread": 2}


def test_a_muted_workflow_counts_in_its_own_state_but_not_in_the_total(api_as, workflow, bob, erin):
    post(bob, workflow)
    muted = api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", {"muted": True}, format="json").json()
    assert (muted["muted"], muted["unread_count"]) == (True, 1)
    assert reading.total_unread(erin) == 0
    assert Event.objects.filter(group=erin.group, type="read_state.updated").latest("id").data["total_unread"] == 0


def test_the_list_of_read_states_is_newest_activity_first(api_as, workflow, bob, erin, acme):
    older = services.create_workflow(acme, bob, "Older", [(erin.email, "editor")])
    post(bob, older)
    post(bob, workflow)
    listed = api_as("editor").get("/api/read_states").json()
    assert [s["workflow_id"] for s in listed["results"]] == [workflow.pk, older.pk]
    assert [s["unread_count"] for s in listed["results"]] == [1, 1]
    assert set(listed) == {"results", "next_cursor", "has_more"}


def test_someone_added_later_starts_with_nothing_unread(api_as, workflow, bob, erin, alice):
    post(bob, workflow, "Before alice")
    services.add_participant(access(bob, workflow), alice.email)
    assert state(api_as("tenant owner"), workflow)["unread_count"] == 0
    post(bob, workflow, "After")
    assert state(api_as("tenant owner"), workflow)["unread_count"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"last_read_message_id": "999999"},  # no such message
        {"last_read_message_id": "elsewhere"},
        {"last_read_message_id": 5},  # not a string
        {},
        {"muted": "yes"},
    ],
)
def test_a_bad_read_state_is_a_400_naming_the_field(api_as, workflow, body):
    response = api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == (list(body) or ["non_field_errors"])


def test_a_cursor_cannot_point_into_another_workflow(api_as, workflow, bob, erin, acme):
    other = services.create_workflow(acme, bob, "Other", [(erin.email, "editor")])
    foreign = post(bob, other)
    response = api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", {"last_read_message_id": str(foreign.pk)}, format="json")
    assert response.status_code == 400
    assert state(api_as("editor"), workflow)["last_read_message_id"] is None


def test_only_participants_have_a_read_state(api_as, workflow):
    # alice manages the tenant and reads the workflow, but takes no part in it.
    assert api_as("tenant owner").get(f"/api/workflows/{workflow.pk}").status_code == 200
    assert api_as("tenant owner").get(f"/api/workflows/{workflow.pk}/read_state").status_code == 404
    assert api_as("other tenant").get(f"/api/workflows/{workflow.pk}/read_state").status_code == 404


def test_a_participant_who_left_the_tenant_has_no_read_states(api_as, workflow, bob, erin, acme, alice):
    from project.accounts import services as accounts
    from project.accounts.models import Membership

    post(bob, workflow)
    accounts.remove_member(acme, Membership.objects.get(tenant=acme, user=alice), erin.email)
    assert list(reading.read_states(erin)) == [] and reading.total_unread(erin) == 0
    assert api_as("editor").get("/api/read_states").json()["results"] == []


def test_a_participant_who_left_the_tenant_is_told_nothing_more_of_its_workflows(workflow, bob, erin, victor, acme, alice, django_capture_on_commit_callbacks):
    from project.accounts import services as accounts
    from project.accounts.models import Membership

    accounts.remove_member(acme, Membership.objects.get(tenant=acme, user=alice), erin.email)
    with django_capture_on_commit_callbacks(execute=True):
        post(bob, workflow, "@**Erin** and @**Victor**: the secret numbers")
        services.set_status(access(bob, workflow), "completed")
    assert not Notification.objects.filter(recipient=erin).exists()
    assert set(Notification.objects.filter(recipient=victor).values_list("kind", flat=True)) == {"workflow.mention", "workflow.completed"}


def test_reading_a_workflow_reads_what_the_bell_said_about_it(client, api_as, workflow, bob, erin, acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        other = services.create_workflow(acme, bob, "Second", [(erin.email, "editor")])
        mention = post(bob, workflow, "@**Erin** can you look?")
        post(bob, other, "@**Erin** and here")

    def unread_bells():
        return set(Notification.objects.filter(recipient=erin, read_at__isnull=True).values_list("payload__workflow_id", "kind"))

    assert unread_bells() == {(workflow.pk, "workflow.mention"), (other.pk, "workflow.mention"), (other.pk, "workflow.participant_added")}
    # Through the API: moving the cursor to the end reads this workflow's, not the other's.
    api_as("editor").patch(f"/api/workflows/{workflow.pk}/read_state", {"last_read_message_id": str(mention.pk)}, format="json")
    assert unread_bells() == {(other.pk, "workflow.mention"), (other.pk, "workflow.participant_added")}
    # Opening the page: nothing new to read there but the bell, which clears too.
    api_as("editor").patch(f"/api/workflows/{other.pk}/read_state", {"last_read_message_id": None}, format="json")
    client.force_login(erin)
    assert client.get(f"/workflows/{other.pk}/").status_code == 200
    assert unread_bells() == set()

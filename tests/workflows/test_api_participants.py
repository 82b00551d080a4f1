import pytest

from project.realtime.models import Event
from workflows.models import HistoryEvent, Participant

from ..conftest import bearer_client
from .conftest import who_may_write

pytestmark = pytest.mark.django_db


def participants_url(workflow, email=""):
    return f"/api/workflows/{workflow.pk}/participants" + (f"/{email}" if email else "")


def roles(workflow):
    return dict(Participant.objects.filter(workflow=workflow).values_list("user__email", "role"))


def last_history(workflow):
    return HistoryEvent.objects.filter(workflow=workflow).order_by("id").values_list(
        "event_type", "performed_by__email", "details"
    ).last()


@pytest.mark.parametrize("caller, expected", who_may_write(201))
def test_who_may_add_a_participant(api_as, workflow, otto, caller, expected):
    client = api_as(caller)
    response = client.post(participants_url(workflow), {"email": otto.email, "role": "viewer"}, format="json")
    assert response.status_code == expected
    if expected == 201:
        added = response.json()
        assert (added["email"], added["display_name"], added["role"]) == (otto.email, "Otto", "viewer")
        assert roles(workflow)[otto.email] == "viewer"
        actor = response.wsgi_request.user.email
        assert last_history(workflow) == ("participant_added", actor, {"email": otto.email, "role": "viewer"})
        assert Event.objects.filter(group=workflow.group, type="participant.added").count() == 3  # erin, victor, otto
    else:
        assert otto.email not in roles(workflow)


def test_the_role_defaults_to_editor_and_the_email_is_case_insensitive(api_as, workflow, otto):
    response = api_as("initiator").post(participants_url(workflow), {"email": "OTTO@Example.com"}, format="json")
    assert response.status_code == 201
    assert roles(workflow)[otto.email] == "editor"


def test_adding_names_the_invalid_field(api_as, workflow, otto, mallory):
    client = api_as("initiator")
    for body, field in [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "ghost@example.com"}, "email"),
        ({"email": mallory.email}, "email"),  # not a member of the workflow's tenant
        ({"email": otto.email, "role": "initiator"}, "role"),
        ({"email": otto.email, "role": "owner"}, "role"),
    ]:
        response = client.post(participants_url(workflow), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], body
    assert set(roles(workflow)) == {"bob@example.com", "erin@example.com", "victor@example.com"}


def test_adding_someone_twice_is_a_conflict(api_as, workflow, victor):
    response = api_as("initiator").post(participants_url(workflow), {"email": victor.email}, format="json")
    assert response.status_code == 409
    assert roles(workflow)[victor.email] == "viewer"


def test_the_initiator_removes_a_participant(api_as, workflow, bob, victor):
    response = api_as("initiator").delete(participants_url(workflow, victor.email))
    assert response.status_code == 204
    assert victor.email not in roles(workflow)
    assert last_history(workflow) == ("participant_removed", bob.email, {"email": victor.email})
    assert bearer_client(victor).get(f"/api/workflows/{workflow.pk}").status_code == 404


@pytest.mark.parametrize(
    "caller, expected",
    [
        ("viewer", 403),
        ("editor", 403),
        ("initiator", 204),
        ("tenant owner", 204),
        ("tenant admin", 204),
        ("outsider in the tenant", 404),
        ("other tenant", 404),
    ],
)
def test_who_may_remove_someone_else(api_as, workflow, erin, caller, expected):
    target = "victor@example.com" if caller != "viewer" else erin.email
    response = api_as(caller).delete(participants_url(workflow, target))
    assert response.status_code == expected
    assert (target in roles(workflow)) == (expected != 204)


def test_a_participant_may_leave(api_as, workflow, victor):
    assert api_as("viewer").delete(participants_url(workflow, victor.email)).status_code == 204
    assert victor.email not in roles(workflow)


def test_the_initiator_cannot_be_removed_and_a_stranger_is_not_found(api_as, workflow, bob, otto):
    client = api_as("tenant owner")
    assert client.delete(participants_url(workflow, bob.email)).status_code == 409
    assert client.delete(participants_url(workflow, otto.email)).status_code == 404
    assert client.delete(participants_url(workflow, "ghost@example.com")).status_code == 404
    assert bob.email in roles(workflow)

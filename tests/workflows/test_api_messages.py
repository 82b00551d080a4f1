import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from project.realtime.models import Event
from workflows import services
from workflows.models import Message

from ..conftest import bearer_client
from .conftest import access, who_may_write

pytestmark = pytest.mark.django_db


def nested(workflow):
    return f"/api/workflow/{workflow.pk}/messages"


def post_messages(user, workflow, count):
    return [services.post_message(access(user, workflow), f"Message {n}").pk for n in range(count)]


# --- Posting --------------------------------------------------------------------------------


def test_an_editor_posts_a_message_and_its_event_goes_out_after_commit(
    api_as, workflow, erin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_as("editor").post(nested(workflow), {"content": "  Ship it\n"}, format="json")
    assert response.status_code == 201
    message = response.json()
    assert message["content"] == "Ship it"
    assert message["sender"] == erin.email and message["sender_name"] == "Erin"
    assert message["message_type"] == "text" and message["share_url"] is None
    # the delivery to the workflow, then the notifications (raised after the commit) and theirs
    assert len(callbacks) == 3
    [event] = Event.objects.filter(group=workflow.group, type="message.created")
    assert event.data["message"]["id"] == message["id"]


def test_the_rest_message_is_the_socket_message_plus_the_senders_name(api_as, workflow):
    posted = api_as("editor").post(nested(workflow), {"content": "Same shape"}, format="json").json()
    event = Event.objects.get(group=workflow.group, type="message.created")
    over_socket = event.data["message"]
    assert {key: posted[key] for key in over_socket if key != "created_at"} == {
        key: value for key, value in over_socket.items() if key != "created_at"
    }
    assert set(posted) - set(over_socket) == {"sender_name", "share_url"}


def test_the_original_route_posts_by_workflow_id(api_as, workflow):
    response = api_as("editor").post(
        "/api/workflow/messages", {"workflowId": workflow.pk, "content": "Hello"}, format="json"
    )
    assert response.status_code == 201
    assert Message.objects.get(workflow=workflow).content == "Hello"


@pytest.mark.parametrize("caller, expected", who_may_write(201))
def test_who_may_post_a_message(api_as, workflow, caller, expected):
    client = api_as(caller)
    assert client.post(nested(workflow), {"content": "Hi"}, format="json").status_code == expected
    original = client.post("/api/workflow/messages", {"workflowId": workflow.pk, "content": "Hi"}, format="json")
    assert original.status_code == expected
    assert Message.objects.filter(workflow=workflow).count() == (2 if expected == 201 else 0)


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_a_closed_workflow_takes_no_messages(api_as, workflow, bob, status):
    services.set_status(access(bob, workflow), status)
    response = api_as("editor").post(nested(workflow), {"content": "Too late"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert not Message.objects.exists()


def test_message_content_must_be_present_non_blank_and_bounded(api_as, workflow):
    client = api_as("editor")
    bodies = [{}, {"content": ""}, {"content": " \n\t "}, {"content": "x" * 10_001}, {"content": None}]
    for body in bodies:
        response = client.post(nested(workflow), body, format="json")
        assert response.status_code == 400, body
        assert "content" in response.json()["error"]["fields"], body
    assert client.post(nested(workflow), {"content": "x" * 10_000}, format="json").status_code == 201


def test_the_original_route_names_a_missing_workflow_id(api_as, workflow):
    response = api_as("editor").post("/api/workflow/messages", {"content": "Where?"}, format="json")
    assert response.status_code == 400
    assert "workflowId" in response.json()["error"]["fields"]
    response = api_as("editor").get("/api/workflow/messages")
    assert response.status_code == 400
    assert "workflowId" in response.json()["error"]["fields"]


# --- Reading with a cursor ------------------------------------------------------------------


def test_messages_page_forward_from_a_cursor(api_as, workflow, erin):
    ids = post_messages(erin, workflow, 5)
    client = api_as("viewer")

    first = client.get(f"{nested(workflow)}?limit=2").json()
    assert [m["id"] for m in first["results"]] == ids[:2]
    assert first["cursor"] == ids[1] and first["has_more"] is True

    second = client.get(f"{nested(workflow)}?after={first['cursor']}&limit=2").json()
    assert [m["id"] for m in second["results"]] == ids[2:4]
    assert second["has_more"] is True

    last = client.get(f"{nested(workflow)}?after={second['cursor']}&limit=2").json()
    assert [m["id"] for m in last["results"]] == ids[4:]
    assert last["cursor"] == ids[4] and last["has_more"] is False

    caught_up = client.get(f"{nested(workflow)}?after={last['cursor']}").json()
    assert caught_up == {"results": [], "cursor": ids[4], "has_more": False}


def test_the_original_route_pages_by_workflow_id(api_as, workflow, erin):
    ids = post_messages(erin, workflow, 3)
    client = api_as("viewer")
    page = client.get(f"/api/workflow/messages?workflowId={workflow.pk}&after={ids[0]}&limit=1").json()
    assert [m["id"] for m in page["results"]] == [ids[1]]
    assert page["cursor"] == ids[1] and page["has_more"] is True
    assert client.get(f"/api/workflow/messages?workflowId={workflow.pk}").json()["cursor"] == ids[2]


def test_an_empty_workflow_has_no_cursor_yet(api_as, workflow):
    assert api_as("viewer").get(nested(workflow)).json() == {"results": [], "cursor": None, "has_more": False}


def test_messages_of_other_workflows_never_appear(api_as, acme, bob, erin, workflow):
    other = services.create_workflow(acme, bob, "Other", [(erin.email, "editor")])
    post_messages(erin, other, 2)
    mine = post_messages(erin, workflow, 1)
    assert [m["id"] for m in api_as("editor").get(nested(workflow)).json()["results"]] == mine


def test_the_default_limit_is_50(api_as, workflow, erin):
    post_messages(erin, workflow, 51)
    page = api_as("viewer").get(nested(workflow)).json()
    assert len(page["results"]) == 50 and page["has_more"] is True


@pytest.mark.parametrize(
    "query, field",
    [
        ("after=-1", "after"),
        ("after=abc", "after"),
        (f"after={2**63}", "after"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=201", "limit"),
        ("limit=1e9", "limit"),
        ("limit=ten", "limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_400_naming_the_field(api_as, workflow, query, field):
    client = api_as("viewer")
    for path in (f"{nested(workflow)}?{query}", f"/api/workflow/messages?workflowId={workflow.pk}&{query}"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert field in response.json()["error"]["fields"], path


def test_the_message_list_takes_the_same_number_of_queries_for_any_count(
    workflow, bob, erin, victor, django_assert_num_queries
):
    client = APIClient()
    client.force_authenticate(victor)
    post_messages(erin, workflow, 1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(nested(workflow)).status_code == 200
    post_messages(erin, workflow, 30)
    post_messages(bob, workflow, 30)
    with django_assert_num_queries(len(one)):
        page = client.get(f"{nested(workflow)}?limit=200").json()
    assert len(page["results"]) == 61
    assert {m["sender_name"] for m in page["results"]} == {"Erin", "Bob"}
    with django_assert_num_queries(len(one)):
        client.get(f"/api/workflow/messages?workflowId={workflow.pk}&limit=200")


def test_the_original_route_hides_foreign_workflows(mallory, workflow, erin):
    post_messages(erin, workflow, 1)
    response = bearer_client(mallory).get(f"/api/workflow/messages?workflowId={workflow.pk}")
    assert response.status_code == 404

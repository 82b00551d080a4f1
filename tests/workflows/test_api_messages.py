import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from project.realtime.models import Event
from workflows import services
from workflows.models import Message

from ..conftest import TINY_PNG
from .conftest import access, who_may_write

pytestmark = pytest.mark.django_db


def nested(workflow):
    return f"/api/workflows/{workflow.pk}/messages"


def post_messages(user, workflow, count):
    return [str(services.post_message(access(user, workflow), f"Message {n}").pk) for n in range(count)]


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
    # the delivery to the workflow's sockets, and nothing per participant (no bell for a message)
    assert len(callbacks) == 1
    [event] = Event.objects.filter(group=workflow.group, type="message.created")
    assert event.data["message"]["id"] == message["id"]


def test_the_rest_message_is_the_socket_frames_message(api_as, workflow):
    posted = api_as("editor").post(nested(workflow), {"content": "Same shape"}, format="json").json()
    event = Event.objects.get(group=workflow.group, type="message.created")
    assert event.as_frame()["data"]["message"] == posted
    assert api_as("viewer").get(nested(workflow)).json()["results"] == [posted]


def test_a_shared_files_message_has_the_same_shape_everywhere(api_as, workflow, erin):
    shared = services.share_file(access(erin, workflow), SimpleUploadedFile("a.png", TINY_PNG, "image/png"))
    [listed] = api_as("viewer").get(nested(workflow)).json()["results"]
    assert listed["share_url"] == f"/share/{shared.share_token}" and listed["id"] == str(shared.pk)
    assert Event.objects.get(group=workflow.group, type="message.created").as_frame()["data"]["message"] == listed


@pytest.mark.parametrize("caller, expected", who_may_write(201))
def test_who_may_post_a_message(api_as, workflow, caller, expected):
    client = api_as(caller)
    assert client.post(nested(workflow), {"content": "Hi"}, format="json").status_code == expected
    assert Message.objects.filter(workflow=workflow).count() == (1 if expected == 201 else 0)


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


# --- Reading with a cursor ------------------------------------------------------------------


def test_messages_page_forward_from_a_cursor_and_it_fetches_what_comes_later(api_as, workflow, erin):
    ids = post_messages(erin, workflow, 5)
    client = api_as("viewer")

    first = client.get(f"{nested(workflow)}?limit=2").json()
    assert [m["id"] for m in first["results"]] == ids[:2]
    assert first["has_more"] is True and set(first) == {"results", "next_cursor", "has_more"}

    second = client.get(f"{nested(workflow)}?cursor={first['next_cursor']}&limit=2").json()
    assert [m["id"] for m in second["results"]] == ids[2:4]
    assert second["has_more"] is True

    last = client.get(f"{nested(workflow)}?cursor={second['next_cursor']}&limit=2").json()
    assert [m["id"] for m in last["results"]] == ids[4:]
    assert last["has_more"] is False and last["next_cursor"]

    caught_up = client.get(f"{nested(workflow)}?cursor={last['next_cursor']}").json()
    assert caught_up == {"results": [], "next_cursor": last["next_cursor"], "has_more": False}
    later = post_messages(erin, workflow, 1)
    assert [m["id"] for m in client.get(f"{nested(workflow)}?cursor={last['next_cursor']}").json()["results"]] == later


def test_an_empty_workflow_has_no_cursor_yet(api_as, workflow):
    assert api_as("viewer").get(nested(workflow)).json() == {"results": [], "next_cursor": None, "has_more": False}


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
        ("cursor=", "cursor"),
        ("cursor=not-a-cursor", "cursor"),
        ("limit=", "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=201", "limit"),
        ("limit=1e9", "limit"),
        ("limit=ten", "limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_400_naming_the_field(api_as, workflow, query, field):
    response = api_as("viewer").get(f"{nested(workflow)}?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_the_message_list_takes_the_same_number_of_queries_for_any_count(
    workflow, bob, erin, victor, django_assert_num_queries
):
    client = APIClient()
    client.force_authenticate(victor)
    post_messages(erin, workflow, 1)
    # The first read of the list's version in scale-out fills Redis from the event log (a query
    # the second read does not make): measure both reads once it is filled.
    client.get(nested(workflow))
    with CaptureQueriesContext(connection) as one:
        assert client.get(nested(workflow)).status_code == 200
    post_messages(erin, workflow, 30)
    post_messages(bob, workflow, 30)
    with django_assert_num_queries(len(one)):
        page = client.get(f"{nested(workflow)}?limit=200").json()
    assert len(page["results"]) == 61
    assert {m["sender_name"] for m in page["results"]} == {"Erin", "Bob"}

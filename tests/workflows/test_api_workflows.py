import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from project.realtime.models import Event
from workflows import services
from workflows.models import HistoryEvent, Workflow

from ..conftest import bearer_client
from .conftest import access, who_may_write

pytestmark = pytest.mark.django_db


def url(workflow, suffix=""):
    return f"/api/workflows/{workflow.pk}{suffix}"


def history(workflow):
    rows = HistoryEvent.objects.filter(workflow=workflow).order_by("id")
    return list(rows.values_list("event_type", "performed_by__email"))


# --- Create ---------------------------------------------------------------------------------


def test_it_creates_a_workflow_with_the_caller_as_initiator(acme, bob, erin, victor):
    body = {
        "tenant_id": acme.pk,
        "title": "  Launch plan  ",
        "participants": [{"email": "ERIN@example.com", "role": "editor"}, {"email": victor.email, "role": "viewer"}],
    }
    response = bearer_client(bob).post("/api/workflows", body, format="json")
    assert response.status_code == 201
    created = response.json()
    assert created["title"] == "Launch plan"
    assert created["status"] == "active"
    assert created["initiator"] == "bob@example.com"
    assert created["tenant_id"] == acme.pk
    assert [(p["email"], p["role"], p["display_name"]) for p in created["participants"]] == [
        ("bob@example.com", "initiator", "Bob"),
        ("erin@example.com", "editor", "Erin"),
        ("victor@example.com", "viewer", "Victor"),
    ]
    assert created["capabilities"] == {"can_write": True, "can_manage": True}
    workflow = Workflow.objects.get(pk=created["id"])
    assert history(workflow) == [
        ("created", bob.email),
        ("participant_added", bob.email),
        ("participant_added", bob.email),
    ]


def test_creating_names_each_invalid_field(alice_api, acme, bob):
    def with_participant(**participant):
        return {"tenant_id": acme.pk, "title": "Team", "participants": [participant]}

    cases = [
        ({"title": "No tenant"}, "tenant_id"),
        ({"tenant_id": acme.pk}, "title"),
        ({"tenant_id": acme.pk, "title": "   "}, "title"),
        ({"tenant_id": acme.pk, "title": "x" * 201}, "title"),
        (with_participant(email=bob.email, role="owner"), "participants"),
        (with_participant(email=bob.email, role="initiator"), "participants"),
        (with_participant(email="bob"), "participants"),
    ]
    for body, field in cases:
        response = alice_api.post("/api/workflows", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], body
    assert not Workflow.objects.exists()


def test_a_participant_outside_the_tenant_is_refused_and_nothing_is_created(alice_api, acme, mallory):
    body = {"tenant_id": acme.pk, "title": "Secret", "participants": [{"email": mallory.email, "role": "viewer"}]}
    response = alice_api.post("/api/workflows", body, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]
    assert not Workflow.objects.exists()


def test_creating_in_a_tenant_you_are_not_in_is_404(mallory_api, acme):
    response = mallory_api.post("/api/workflows", {"tenant_id": acme.pk, "title": "Intrusion"}, format="json")
    assert response.status_code == 404
    assert not Workflow.objects.exists()


# --- List -----------------------------------------------------------------------------------


def test_the_list_shows_the_callers_workflows_newest_first(acme, alice, bob, erin, otto, mallory, workflow):
    later = services.create_workflow(acme, bob, "Retrospective", [(erin.email, "viewer")])
    services.create_workflow(acme, alice, "Owner's own")

    def titles(user):
        return [w["title"] for w in bearer_client(user).get("/api/workflows").json()["results"]]

    assert titles(erin) == [later.title, workflow.title]
    assert titles(alice) == ["Owner's own", later.title, workflow.title]  # the owner sees the tenant's
    assert titles(otto) == []
    assert titles(mallory) == []


def test_the_list_filters_by_status_and_tenant(acme, alice, bob, workflow):
    done = services.create_workflow(acme, bob, "Done")
    services.set_status(access(bob, done), "completed")
    own_tenant = alice.memberships.exclude(tenant=acme).get().tenant
    services.create_workflow(own_tenant, alice, "Elsewhere")
    client = bearer_client(alice)

    def titles(query):
        response = client.get(f"/api/workflows?{query}")
        assert response.status_code == 200
        return [w["title"] for w in response.json()["results"]]

    assert titles("status=completed") == ["Done"]
    assert titles(f"status=active&tenant_id={acme.pk}") == ["Launch plan"]
    assert titles(f"tenant_id={own_tenant.pk}") == ["Elsewhere"]


def test_the_list_rejects_a_bad_status_or_a_foreign_tenant(alice_api, mallory):
    response = alice_api.get("/api/workflows?status=finished")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]
    foreign = mallory.memberships.get().tenant_id
    response = alice_api.get(f"/api/workflows?tenant_id={foreign}")
    assert response.status_code == 400
    assert "tenant_id" in response.json()["error"]["fields"]


def test_the_list_takes_the_same_number_of_queries_for_one_or_many(acme, bob, erin, django_assert_num_queries):
    client = APIClient()
    client.force_authenticate(bob)
    first = services.create_workflow(acme, bob, "First", [(erin.email, "viewer")])
    services.set_status(access(bob, first), "completed")
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/workflows").status_code == 200
    for n in range(15):
        workflow = services.create_workflow(acme, bob, f"More {n}", [(erin.email, "editor")])
        services.set_status(access(bob, workflow), "completed")
    with django_assert_num_queries(len(one)):
        response = client.get("/api/workflows")
    assert len(response.json()["results"]) == 16
    assert {w["completed_by"] for w in response.json()["results"]} == {bob.email}


# --- Detail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller, expected",
    [
        ("viewer", 200),
        ("editor", 200),
        ("initiator", 200),
        ("tenant owner", 200),
        ("tenant admin", 200),
        ("outsider in the tenant", 404),
        ("other tenant", 404),
    ],
)
def test_who_may_read_a_workflow(api_as, workflow, caller, expected):
    client = api_as(caller)
    assert client.get(url(workflow)).status_code == expected
    assert client.get(url(workflow, "/history")).status_code == expected
    assert client.get(url(workflow, "/messages")).status_code == expected


@pytest.mark.parametrize(
    "caller, capabilities",
    [
        ("viewer", {"can_write": False, "can_manage": False}),
        ("editor", {"can_write": True, "can_manage": False}),
        ("initiator", {"can_write": True, "can_manage": True}),
        ("tenant admin", {"can_write": False, "can_manage": True}),
    ],
)
def test_the_detail_states_what_the_caller_may_do(api_as, workflow, caller, capabilities):
    detail = api_as(caller).get(url(workflow)).json()
    assert detail["capabilities"] == capabilities
    assert [p["email"] for p in detail["participants"]] == ["bob@example.com", "erin@example.com", "victor@example.com"]
    assert set(detail["participants"][0]) == {"email", "display_name", "role", "joined_at"}


def test_an_unknown_workflow_is_404(alice_api):
    assert alice_api.get("/api/workflows/doesnotexist").status_code == 404


# --- Update ---------------------------------------------------------------------------------


def test_an_editor_renames_a_workflow_with_patch(api_as, workflow, erin):
    client = api_as("editor")
    response = client.patch(url(workflow), {"title": " Launch plan v2 "}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Launch plan v2"
    assert Workflow.objects.get(pk=workflow.pk).title == "Launch plan v2"
    assert client.put(url(workflow), {"title": "Launch plan v3"}, format="json").status_code == 405
    assert history(workflow)[-1] == ("updated", erin.email)


def test_a_viewer_cannot_rename(api_as, workflow):
    response = api_as("viewer").patch(url(workflow), {"title": "Mine now"}, format="json")
    assert response.status_code == 403
    assert Workflow.objects.get(pk=workflow.pk).title == "Launch plan"


def test_an_update_names_each_invalid_field(api_as, workflow):
    client = api_as("initiator")
    for body, field in [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"status": "finished"}, "status"),
        ({}, "non_field_errors"),
    ]:
        response = client.patch(url(workflow), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], body


def test_a_refused_status_change_undoes_the_rename_sent_with_it(api_as, workflow):
    response = api_as("editor").patch(url(workflow), {"title": "Renamed", "status": "completed"}, format="json")
    assert response.status_code == 403
    workflow.refresh_from_db()
    assert (workflow.title, workflow.status) == ("Launch plan", "active")
    assert [event for event, _ in history(workflow)] == ["created", "participant_added", "participant_added"]


def test_completing_records_who_and_when_and_reopening_clears_it(api_as, workflow, bob):
    client = api_as("initiator")
    completed = client.patch(url(workflow), {"status": "completed"}, format="json").json()
    assert completed["status"] == "completed"
    assert completed["completed_by"] == bob.email and completed["completed_at"]
    reopened = client.patch(url(workflow), {"status": "active"}, format="json").json()
    assert reopened["status"] == "active"
    assert reopened["completed_by"] is None and reopened["completed_at"] is None
    cancelled = client.patch(url(workflow), {"status": "cancelled"}, format="json").json()
    assert cancelled["status"] == "cancelled"
    assert history(workflow)[-3:] == [("completed", bob.email), ("reopened", bob.email), ("cancelled", bob.email)]


def test_a_cancelled_workflow_must_be_reopened_before_completing(api_as, workflow):
    client = api_as("initiator")
    client.patch(url(workflow), {"status": "cancelled"}, format="json")
    response = client.patch(url(workflow), {"status": "completed"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


MANAGE = [
    ("viewer", 403),
    ("editor", 403),
    ("initiator", 200),
    ("tenant owner", 200),
    ("tenant admin", 200),
    ("outsider in the tenant", 404),
    ("other tenant", 404),
]


@pytest.mark.parametrize("caller, expected", MANAGE)
def test_who_may_complete(api_as, workflow, caller, expected):
    client = api_as(caller)
    response = client.patch(url(workflow), {"status": "completed"}, format="json")
    assert response.status_code == expected
    workflow.refresh_from_db()
    assert workflow.status == ("completed" if expected == 200 else "active")
    if expected == 200:
        assert history(workflow)[-1] == ("completed", response.wsgi_request.user.email)


@pytest.mark.parametrize("caller, expected", MANAGE)
def test_who_may_reopen(api_as, workflow, bob, caller, expected):
    services.set_status(access(bob, workflow), "completed")
    client = api_as(caller)
    response = client.patch(url(workflow), {"status": "active"}, format="json")
    assert response.status_code == expected
    workflow.refresh_from_db()
    assert workflow.status == ("active" if expected == 200 else "completed")
    if expected == 200:
        assert history(workflow)[-1] == ("reopened", response.wsgi_request.user.email)


# --- Delete ---------------------------------------------------------------------------------


@pytest.mark.parametrize("caller, expected", [(caller, 204 if code == 200 else code) for caller, code in MANAGE])
def test_who_may_delete(api_as, workflow, caller, expected):
    response = api_as(caller).delete(url(workflow))
    assert response.status_code == expected
    workflow.refresh_from_db()
    assert (workflow.deleted_at is not None) == (expected == 204)


def test_a_deleted_workflow_vanishes_but_keeps_its_history(api_as, workflow, bob):
    client = api_as("initiator")
    assert client.delete(url(workflow)).status_code == 204
    assert client.get("/api/workflows").json()["results"] == []
    assert client.get(url(workflow)).status_code == 404
    assert client.get(url(workflow, "/history")).status_code == 404
    assert client.get(url(workflow, "/messages")).status_code == 404
    assert client.post(url(workflow, "/messages"), {"content": "Anyone?"}, format="json").status_code == 404
    assert client.delete(url(workflow)).status_code == 404
    assert history(workflow)[0] == ("created", bob.email)
    assert history(workflow)[-1] == ("deleted", bob.email)


# --- History --------------------------------------------------------------------------------


def test_the_history_lists_one_row_per_call_oldest_first(api_as, workflow, bob, erin, otto):
    client = api_as("initiator")
    client.patch(url(workflow), {"title": "Launch plan v2"}, format="json")
    client.post(url(workflow, "/participants"), {"email": otto.email, "role": "viewer"}, format="json")
    client.delete(url(workflow, f"/participants/{otto.email}"))
    client.patch(url(workflow), {"status": "completed"}, format="json")
    client.patch(url(workflow), {"status": "active"}, format="json")
    api_as("editor").post(url(workflow, "/messages"), {"content": "Messages are not history"}, format="json")

    response = client.get(url(workflow, "/history"))
    assert response.status_code == 200
    page = response.json()
    assert page["has_more"] is False
    rows = page["results"]
    assert [(r["event_type"], r["performed_by"]) for r in rows] == [
        ("created", bob.email),
        ("participant_added", bob.email),
        ("participant_added", bob.email),
        ("updated", bob.email),
        ("participant_added", bob.email),
        ("participant_removed", bob.email),
        ("completed", bob.email),
        ("reopened", bob.email),
    ]
    assert rows[0]["snapshot"]["title"] == "Launch plan" and rows[3]["snapshot"]["title"] == "Launch plan v2"
    assert rows[3]["details"] == {"old_title": "Launch plan"}
    assert rows[4]["details"] == {"email": otto.email, "role": "viewer"}
    assert rows[6]["snapshot"]["status"] == "completed" and rows[6]["snapshot"]["completed_at"]
    assert rows[7]["snapshot"]["completed_at"] is None
    assert set(rows[0]["snapshot"]) == {
        "tenant_id", "initiator", "title", "status", "created_at", "updated_at", "completed_at", "deleted_at"
    }
    assert rows[0]["snapshot"]["initiator"] == bob.email


def test_the_history_is_paginated(api_as, workflow):
    client = api_as("viewer")
    page = client.get(url(workflow, "/history?limit=2")).json()
    assert len(page["results"]) == 2 and page["has_more"] is True
    rest = client.get(url(workflow, f"/history?cursor={page['next_cursor']}")).json()
    assert [r["event_type"] for r in rest["results"]] == ["participant_added"] and rest["has_more"] is False
    assert all(isinstance(r["id"], str) for r in page["results"])


def test_a_workflow_event_carries_the_workflow_as_rest_shows_it(api_as, workflow):
    client = api_as("initiator")
    client.patch(url(workflow), {"title": "Renamed"}, format="json")
    [listed] = client.get("/api/workflows").json()["results"]
    event = Event.objects.get(group=workflow.group, type="workflow.updated")
    assert event.as_frame()["data"]["workflow"] == listed


# --- Custom events ---------------------------------------------------------------------------


def custom_events(workflow):
    return list(Event.objects.filter(group=workflow.group, type__startswith="custom.").values_list("type", "data"))


@pytest.mark.parametrize("caller, expected", who_may_write(202))
def test_who_may_push_a_custom_event(api_as, workflow, caller, expected):
    client = api_as(caller)
    body = {"type": "build.done", "data": {"ok": True}}
    response = client.post(url(workflow, "/events"), body, format="json")
    assert response.status_code == expected
    pushed = [("custom.build.done", {"by": response.wsgi_request.user.email, "payload": {"ok": True}})]
    assert custom_events(workflow) == (pushed if expected == 202 else [])


def test_a_custom_event_needs_a_plain_type_and_a_small_object(api_as, workflow):
    client = api_as("editor")
    for body, field in [
        ({"data": {}}, "type"),
        ({"type": "Build Done"}, "type"),
        ({"type": "a" * 51}, "type"),
        ({"type": "ok", "data": ["not", "an", "object"]}, "data"),
        ({"type": "ok", "data": {"blob": "x" * 16 * 1024}}, "data"),
    ]:
        response = client.post(url(workflow, "/events"), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], body
    assert custom_events(workflow) == []

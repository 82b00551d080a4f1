"""Workflow templates: the REST API under /api/tenants/{id}/workflow_templates, starting a
workflow from one (`POST /api/workflows {"template_id"}`) and workflows.templates_service.
In Acme, alice owns the tenant, ada is an admin, bob, erin, victor and otto are members;
mallory has a tenant of her own."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from project.accounts import services as accounts
from project.accounts.models import Membership
from project.realtime.models import Event
from workflows import templates_service
from workflows.models import Message, Workflow, WorkflowTemplate

from ..conftest import bearer_client

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate().isoformat()


def templates_url(tenant_id):
    return f"/api/tenants/{tenant_id}/workflow_templates"


def template_url(template):
    return f"{templates_url(template.tenant_id)}/{template.pk}"


def manager(user, tenant):
    return Membership.objects.get(user=user, tenant=tenant)


@pytest.fixture
def release(acme, alice, bob, victor):
    """Acme's release template: bob edits, victor watches, a checklist as the first message."""
    return templates_service.create_template(
        manager(alice, acme),
        name="Release",
        title_pattern="Release {date}",
        description="Everything a release needs.",
        first_message="- [ ] Changelog\n- [ ] Tag",
        participants=[(bob.email, "editor"), (victor.email, "viewer")],
    )


@pytest.fixture
def mallorys_tenant(mallory):
    return accounts.create_tenant(mallory, "Evil Corp")


# --- Managing templates --------------------------------------------------------------------


def test_an_owner_creates_a_template_and_gets_its_one_shape(alice_api, acme, bob):
    body = {
        "name": "Release",
        "title_pattern": "Release {date}",
        "participants": [{"email": "BOB@example.com", "role": "viewer"}],
        "first_message": "- [ ] Changelog",
    }

    response = alice_api.post(templates_url(acme.pk), body, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert isinstance(data["id"], str) and data["tenant_id"] == acme.pk
    assert data["participants"] == [{"email": "bob@example.com", "display_name": "Bob", "role": "viewer"}]
    assert data["description"] == "" and data["created_by"] == "alice@example.com"
    assert set(data) == {
        "id", "tenant_id", "name", "title_pattern", "description", "participants", "first_message",
        "created_by", "created_at", "updated_at",
    }
    assert alice_api.get(template_url(WorkflowTemplate.objects.get())).json() == data


def test_an_admin_may_create_templates_and_a_member_may_not(acme, ada, otto):
    body = {"name": "Weekly", "title_pattern": "Weekly {date}"}
    assert bearer_client(ada).post(templates_url(acme.pk), body, format="json").status_code == 201
    response = bearer_client(otto).post(templates_url(acme.pk), {**body, "name": "Other"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_every_member_lists_the_tenants_templates_in_the_envelope(acme, release, otto):
    response = bearer_client(otto).get(templates_url(acme.pk))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next_cursor", "has_more"}
    assert [t["name"] for t in body["results"]] == ["Release"]


def test_another_tenants_templates_are_a_404_whichever_way_they_are_asked_for(
    mallory_api, acme, release, mallorys_tenant
):
    assert mallory_api.get(templates_url(acme.pk)).status_code == 404
    assert mallory_api.get(template_url(release)).status_code == 404
    # Acme's template under a tenant of hers: no such template there.
    assert mallory_api.get(f"{templates_url(mallorys_tenant.pk)}/{release.pk}").status_code == 404
    assert mallory_api.patch(template_url(release), {"name": "Mine"}, format="json").status_code == 404
    assert mallory_api.delete(template_url(release)).status_code == 404
    assert mallory_api.get(templates_url(mallorys_tenant.pk)).json()["results"] == []


@pytest.mark.parametrize(
    "change, field",
    [
        ({"participants": [{"email": "mallory@evil.example", "role": "editor"}]}, "participants"),
        ({"participants": [{"email": "nobody@example.com"}]}, "participants"),
        ({"participants": [{"email": "bob@example.com", "role": "owner"}]}, "participants"),
        ({"participants": [{"email": "bob@example.com", "role": "initiator"}]}, "participants"),
        ({"title_pattern": "Release {title}"}, "title_pattern"),
        ({"title_pattern": "Release {date"}, "title_pattern"),
        ({"title_pattern": "   "}, "title_pattern"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_naming_the_field(alice_api, acme, bob, mallory, change, field):
    body = {"name": "Release", "title_pattern": "Release {date}", **change}

    response = alice_api.post(templates_url(acme.pk), body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert not WorkflowTemplate.objects.exists()


def test_a_non_member_is_named_in_the_refusal(alice_api, acme, mallory):
    body = {"name": "R", "title_pattern": "R", "participants": [{"email": mallory.email, "role": "viewer"}]}

    fields = alice_api.post(templates_url(acme.pk), body, format="json").json()["error"]["fields"]

    assert fields == {"participants": ["Not a member of this tenant: mallory@evil.example."]}


def test_a_second_template_of_the_same_name_is_refused(alice_api, acme, release):
    response = alice_api.post(templates_url(acme.pk), {"name": "release", "title_pattern": "x"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["name"]


def test_patch_changes_only_what_is_sent_and_participants_replace_the_list(alice_api, release, erin):
    response = alice_api.patch(
        template_url(release), {"participants": [{"email": erin.email, "role": "viewer"}]}, format="json"
    )

    assert response.status_code == 200
    data = response.json()
    assert [(p["email"], p["role"]) for p in data["participants"]] == [(erin.email, "viewer")]
    assert data["name"] == "Release" and data["first_message"] == "- [ ] Changelog\n- [ ] Tag"
    assert alice_api.patch(template_url(release), {}, format="json").status_code == 400


def test_a_member_may_not_change_or_delete_a_template(release, otto):
    client = bearer_client(otto)
    assert client.patch(template_url(release), {"name": "Mine"}, format="json").status_code == 403
    assert client.delete(template_url(release)).status_code == 403
    assert WorkflowTemplate.objects.get().name == "Release"


def test_deleting_a_template_keeps_the_workflows_started_from_it(alice_api, alice, release):
    workflow = templates_service.start_workflow(release, alice)

    assert alice_api.delete(template_url(release)).status_code == 204

    assert alice_api.get(template_url(release)).status_code == 404
    assert Workflow.objects.filter(pk=workflow.pk, participants__user__email="bob@example.com").exists()


# --- Starting a workflow from a template ---------------------------------------------------


def test_a_workflow_from_a_template_has_its_participants_and_first_message(
    acme, release, otto, django_capture_on_commit_callbacks
):
    client = bearer_client(otto)  # any member may start one
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/workflows", {"tenant_id": acme.pk, "template_id": release.pk}, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["title"] == f"Release {TODAY}"
    assert [(p["email"], p["role"]) for p in data["participants"]] == [
        ("otto@example.com", "initiator"), ("bob@example.com", "editor"), ("victor@example.com", "viewer"),
    ]
    [message] = Message.objects.filter(workflow_id=data["id"])
    assert (message.sender, message.content) == (otto, "- [ ] Changelog\n- [ ] Tag")
    events = Event.objects.filter(group=f"workflow.{data['id']}").values_list("type", flat=True)
    assert list(events).count("message.created") == 1
    messages = client.get(f"/api/workflows/{data['id']}/messages").json()["results"]
    assert [(m["sender"], m["content"]) for m in messages] == [("otto@example.com", "- [ ] Changelog\n- [ ] Tag")]
    # Added to a workflow rings the bell, as for a workflow started without a template.
    assert Notification.objects.filter(recipient__email="bob@example.com", payload__workflow_id=data["id"]).count() == 1


def test_a_title_and_participants_sent_with_the_template_take_precedence(alice_api, acme, release, bob, erin):
    body = {
        "tenant_id": acme.pk,
        "template_id": release.pk,
        "title": "Hotfix 1.2.1",
        "participants": [{"email": bob.email, "role": "viewer"}, {"email": erin.email, "role": "editor"}],
    }

    data = alice_api.post("/api/workflows", body, format="json").json()

    assert data["title"] == "Hotfix 1.2.1"
    roles = {p["email"]: p["role"] for p in data["participants"]}
    assert roles == {"alice@example.com": "initiator", "bob@example.com": "viewer",
                     "victor@example.com": "viewer", "erin@example.com": "editor"}


def test_a_workflow_needs_a_title_or_a_template(alice_api, acme):
    response = alice_api.post("/api/workflows", {"tenant_id": acme.pk}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["title"]


def test_a_template_of_another_tenant_is_a_404(alice_api, mallory_api, acme, release, mallorys_tenant, alice, mallory):
    body = {"tenant_id": mallorys_tenant.pk, "template_id": release.pk}
    assert mallory_api.post("/api/workflows", body, format="json").status_code == 404

    theirs = templates_service.create_template(manager(mallory, mallorys_tenant), name="Evil", title_pattern="Evil")
    body = {"tenant_id": acme.pk, "template_id": theirs.pk}
    assert alice_api.post("/api/workflows", body, format="json").status_code == 404
    assert alice_api.post("/api/workflows", {**body, "template_id": "nosuchtemplate"}, format="json").status_code == 404
    assert not Workflow.objects.filter(tenant=acme).exists()


def test_a_default_participant_who_left_the_tenant_is_skipped(acme, alice, release, bob):
    accounts.remove_member(acme, manager(alice, acme), bob.email)

    workflow = templates_service.start_workflow(release, alice)

    assert sorted(workflow.participants.values_list("user__email", flat=True)) == [
        "alice@example.com", "victor@example.com",
    ]


def test_a_refused_start_keeps_nothing(acme, alice, release, mallory):
    with pytest.raises(ValidationError):
        templates_service.start_workflow(release, alice, participants=[(mallory.email, "editor")])

    assert not Workflow.objects.exists()
    assert not Message.objects.exists()


def test_a_template_without_a_first_message_posts_nothing(acme, alice):
    template = templates_service.create_template(manager(alice, acme), name="Plain", title_pattern="Plain")

    workflow = templates_service.start_workflow(template, alice)

    assert workflow.title == "Plain"
    assert not workflow.messages.exists()


# --- The service's own rules ----------------------------------------------------------------


def test_date_is_the_only_placeholder_and_titles_keep_their_limit():
    day = datetime.date(2026, 12, 2)
    assert templates_service.render_title("Release {date}", day) == "Release 2026-12-02"
    assert templates_service.render_title("{date} / {date}", day) == "2026-12-02 / 2026-12-02"
    assert len(templates_service.render_title("{date}" * 33, day)) == 200


def test_only_owners_and_admins_write_templates(acme, alice, otto, release):
    member = manager(otto, acme)
    with pytest.raises(PermissionDenied):
        templates_service.create_template(member, name="Mine", title_pattern="Mine")
    with pytest.raises(PermissionDenied):
        templates_service.update_template(member, release, name="Mine")
    with pytest.raises(PermissionDenied):
        templates_service.delete_template(member, release)


def test_a_manager_of_another_tenant_cannot_write_this_ones_template(release, mallory, mallorys_tenant):
    with pytest.raises(PermissionDenied):
        templates_service.update_template(manager(mallory, mallorys_tenant), release, name="Mine")


def test_the_template_admin_lists_and_shows_templates(client, release, django_user_model):
    staff = django_user_model.objects.create_superuser("root@example.com", "pw")
    client.force_login(staff)

    assert "Release" in client.get(reverse("admin:workflows_workflowtemplate_changelist")).text
    page = client.get(reverse("admin:workflows_workflowtemplate_change", args=[release.pk]))
    assert page.status_code == 200 and "victor@example.com" in page.text

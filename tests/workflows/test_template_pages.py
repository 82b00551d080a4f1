"""The workflow templates pages of a tenant, and starting a workflow from a template on the
workflow list, driven like a browser without JavaScript would."""

import pytest
from django.urls import reverse
from django.utils import timezone

from project.accounts import services as accounts
from project.accounts.models import Membership
from workflows import templates_service
from workflows.models import Workflow, WorkflowTemplate

pytestmark = pytest.mark.django_db

LIST = reverse("workflow_list")


def page(tenant):
    return reverse("workflow_templates", args=[tenant.pk])


@pytest.fixture
def release(acme, alice, bob):
    return templates_service.create_template(
        Membership.objects.get(user=alice, tenant=acme),
        name="Release",
        title_pattern="Release {date}",
        first_message="- [ ] Changelog\n- [ ] Tag",
        participants=[(bob.email, "viewer")],
    )


def form_errors(response, field):
    return [str(error) for error in response.context["form"].errors.get(field, [])]


def test_the_tenant_page_links_to_its_templates(client, alice, acme):
    client.force_login(alice)
    assert page(acme) in client.get(reverse("tenant_detail", args=[acme.pk])).text


def test_an_owner_creates_a_template_on_the_page(client, alice, acme, bob):
    client.force_login(alice)
    form = {
        "name": "Release",
        "title_pattern": "Release {date}",
        "participants": "bob@example.com viewer\n",
        "first_message": "- [ ] Changelog",
    }

    response = client.post(page(acme), form, follow=True)

    assert response.redirect_chain == [(page(acme), 302)]
    assert "Created the template “Release”." in response.text
    assert "bob@example.com (viewer)" in response.text
    template = WorkflowTemplate.objects.get()
    assert [(p.user, p.role) for p in template.participants.all()] == [(bob, "viewer")]


@pytest.mark.parametrize(
    "participants, message",
    [
        ("bob@example.com owner", "“bob@example.com owner”: the role is editor or viewer."),
        ("not-an-address", "“not-an-address” is not an email address."),
        ("mallory@evil.example", "Not a member of this tenant: mallory@evil.example."),
    ],
)
def test_a_bad_participant_is_refused_on_the_participants_field(client, alice, acme, bob, mallory, participants, message):
    client.force_login(alice)

    response = client.post(page(acme), {"name": "R", "title_pattern": "R", "participants": participants})

    assert response.status_code == 400
    assert form_errors(response, "participants") == [message]
    assert not WorkflowTemplate.objects.exists()


def test_a_bad_title_pattern_is_refused_on_its_field(client, alice, acme):
    client.force_login(alice)

    response = client.post(page(acme), {"name": "R", "title_pattern": "Release {version}"})

    assert response.status_code == 400
    assert form_errors(response, "title_pattern")


def test_a_member_sees_the_templates_but_no_form_and_may_not_post(client, bob, acme, release):
    client.force_login(bob)

    response = client.get(page(acme))

    assert response.status_code == 200
    assert "Release {date}" in response.text
    assert "Create template" not in response.text
    assert reverse("workflow_template_edit", args=[acme.pk, release.pk]) not in response.text
    assert client.post(page(acme), {"name": "Mine", "title_pattern": "Mine"}).status_code == 403
    assert client.get(reverse("workflow_template_edit", args=[acme.pk, release.pk])).status_code == 403
    assert client.post(reverse("workflow_template_delete", args=[acme.pk, release.pk])).status_code == 403


def test_another_tenants_templates_are_a_404(client, mallory, acme, release):
    own = accounts.create_tenant(mallory, "Evil Corp")
    client.force_login(mallory)

    assert client.get(page(acme)).status_code == 404
    assert client.get(reverse("workflow_template_edit", args=[acme.pk, release.pk])).status_code == 404
    assert client.post(reverse("workflow_template_delete", args=[acme.pk, release.pk])).status_code == 404
    assert client.get(reverse("workflow_template_edit", args=[own.pk, release.pk])).status_code == 404
    assert release.name not in client.get(page(own)).text
    assert WorkflowTemplate.objects.filter(pk=release.pk).exists()


def test_an_owner_edits_and_deletes_a_template(client, alice, acme, release, carol):
    client.force_login(alice)
    edit = reverse("workflow_template_edit", args=[acme.pk, release.pk])
    assert "bob@example.com viewer" in client.get(edit).text  # the form shows what is there

    form = {"name": "Release train", "title_pattern": "Train {date}", "participants": "carol@example.com"}
    assert client.post(edit, form).status_code == 302
    release.refresh_from_db()
    assert (release.name, release.title_pattern) == ("Release train", "Train {date}")
    assert [(p.user, p.role) for p in release.participants.all()] == [(carol, "editor")]

    response = client.post(reverse("workflow_template_delete", args=[acme.pk, release.pk]), follow=True)
    assert "Deleted the template “Release train”." in response.text
    assert not WorkflowTemplate.objects.exists()


# --- The workflow list's "Start a workflow" ------------------------------------------------


def test_the_list_offers_the_templates_and_a_template_link_picks_one(client, bob, acme, release):
    client.force_login(bob)

    response = client.get(LIST, {"template": release.pk})

    form = response.context["form"]
    assert "template" in form.fields and not form.fields["title"].required
    assert form["template"].value() == release.pk
    assert "Release (Acme)" in response.text


def test_without_templates_the_form_is_as_before(client, bob, acme):
    client.force_login(bob)

    form = client.get(LIST).context["form"]

    assert "template" not in form.fields and form.fields["title"].required


def test_a_workflow_started_from_a_template_on_the_page(client, carol, acme, release, bob):
    client.force_login(carol)

    response = client.post(LIST, {"tenant": acme.pk, "template": release.pk, "title": "", "participants": ""}, follow=True)

    workflow = Workflow.objects.get()
    assert workflow.title == f"Release {timezone.localdate().isoformat()}"
    assert response.redirect_chain[-1][0] == reverse("workflow_detail", args=[workflow.pk])
    participants = response.context["participants"]
    assert [(p.user.email, p.role) for p in participants] == [(carol.email, "initiator"), (bob.email, "viewer")]
    assert [m.content for m in response.context["workflow_messages"]] == ["- [ ] Changelog\n- [ ] Tag"]
    assert response.context["workflow_messages"][0].sender == carol


def test_a_title_or_a_template_is_needed(client, carol, acme, release):
    client.force_login(carol)

    response = client.post(LIST, {"tenant": acme.pk, "template": "", "title": ""})

    assert response.status_code == 400
    assert form_errors(response, "title") == ["Give the workflow a title, or pick a template."]
    assert not Workflow.objects.exists()


def test_another_tenants_template_cannot_be_picked(client, mallory, release):
    own = accounts.create_tenant(mallory, "Evil Corp")
    templates_service.create_template(Membership.objects.get(user=mallory, tenant=own), name="Evil", title_pattern="Evil")
    client.force_login(mallory)

    response = client.post(LIST, {"tenant": own.pk, "template": release.pk, "title": "Mine"})

    assert response.status_code == 400
    assert form_errors(response, "template")
    assert "Release" not in response.text
    assert not Workflow.objects.exists()

"""The personas of the security matrix, all around one workflow in the Acme tenant:

- anonymous: no credentials;
- outsider: a member of another tenant;
- non_participant: an Acme member who does not take part in the workflow;
- viewer, editor: Acme members taking part with those roles;
- initiator: the Acme member who started the workflow (a plain member, not a tenant manager);
- staff: a Django staff user who belongs to no tenant.

Acme's owner is nobody above: tenant managers see every workflow of their tenant, which is
tested with the workflow access rules."""

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from notifications import digests
from notifications import services as notifications
from notifications.models import Kind
from project.accounts import invitations
from project.accounts import services as accounts
from project.accounts.models import Membership, User
from subscriptions import services as subscriptions
from subscriptions.models import ProviderAccount
from tests.conftest import PASSWORD
from workflows import services as workflows
from workflows import templates_service as workflow_templates
from workflows.access import get_workflow_access

PERSONAS = ["anonymous", "outsider", "non_participant", "viewer", "editor", "initiator", "staff"]


@dataclass
class World:
    users: dict[str, User]
    tenant_id: str
    workflow_id: str
    share_token: str
    notification_id: int
    editor_token_id: int
    editor_account_id: str
    editor_subscription_id: str
    editor_message_id: int
    template_id: str
    invitation_id: str
    unsubscribe_token: str = ""

    def values(self) -> dict:
        """What a route template may name."""
        return {
            "tenant": self.tenant_id,
            "workflow": self.workflow_id,
            "share_token": self.share_token,
            "notification": self.notification_id,
            "editor_token": self.editor_token_id,
            "editor_account": self.editor_account_id,
            "editor_subscription": self.editor_subscription_id,
            "editor_message": self.editor_message_id,
            "template": self.template_id,
            "invitation": self.invitation_id,
            "unsubscribe_token": self.unsubscribe_token,
            "viewer_email": self.users["viewer"].email,
            "editor_email": self.users["editor"].email,
            "newcomer_email": self.users["newcomer"].email,
        }


@pytest.fixture
def world(db) -> World:
    def user(name, **extra):
        return accounts.register_user(f"{name}@example.com", PASSWORD, display_name=name, **extra)

    owner = user("owner")
    acme = accounts.create_tenant(owner, "Acme")
    owner_membership = Membership.objects.get(user=owner, tenant=acme)
    users = {"owner": owner}
    for name in ("non_participant", "viewer", "editor", "initiator", "newcomer"):
        users[name] = user(name)
        accounts.add_member(acme, owner_membership, users[name].email)
    users["outsider"] = user("outsider")
    accounts.create_tenant(users["outsider"], "Elsewhere")
    users["staff"] = user("staff")
    User.objects.filter(pk=users["staff"].pk).update(is_staff=True)

    workflow = workflows.create_workflow(
        acme, users["initiator"], "Matrix", [(users["viewer"].email, "viewer"), (users["editor"].email, "editor")]
    )
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    shared = workflows.share_file(get_workflow_access(users["editor"], workflow.pk), upload)
    [notification] = notifications.notify([users["editor"]], Kind.QUEUE_REPLY, title="For the editor")
    editor_token, _ = accounts.issue_api_token(users["editor"], "to revoke")
    said = workflows.post_message(get_workflow_access(users["editor"], workflow.pk), "The editor's words")
    # A connected account is made by the OAuth flow (tested in tests/subscriptions); here only its row.
    account = ProviderAccount.objects.create(user=users["editor"], provider="spotify", external_id="editor-spotify")
    subscription = subscriptions.add_subscription(account, "spotify_show", "show-1", "A show")
    template = workflow_templates.create_template(
        owner_membership, name="Release", title_pattern="Release {date}", participants=[(users["viewer"].email, "viewer")]
    )
    invitation = invitations.invite(acme, owner_membership, "invitee@example.com", "member", "http://testserver")
    return World(
        users, acme.pk, workflow.pk, shared.share_token, notification.pk, editor_token.pk, account.pk, subscription.pk,
        said.pk, template.pk, invitation.pk, digests.unsubscribe_token(users["editor"]),
    )


def client_for(world: World, persona: str) -> APIClient:
    """A client with the persona's bearer token and browser session, as their scripts and
    browser would have."""
    client = APIClient()
    if persona != "anonymous":
        user = world.users[persona]
        _, raw = accounts.issue_api_token(user, "matrix")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.force_login(user)
    return client

"""Workflow personas, on top of tests/conftest.py's. In Acme (owned by alice), bob starts the
"Launch plan" workflow with erin as editor and victor as viewer. ada is an Acme admin and otto
an Acme member, and neither takes part; mallory is in another tenant."""

import pytest

from project.accounts import services as accounts
from project.accounts.models import Membership
from workflows import services
from workflows.access import get_workflow_access

from ..conftest import PASSWORD, bearer_client

#: Every kind of caller the permission tests check, and the persona fixture that plays it.
CALLERS = {
    "viewer": "victor",
    "editor": "erin",
    "initiator": "bob",
    "tenant owner": "alice",
    "tenant admin": "ada",
    "outsider in the tenant": "otto",
    "other tenant": "mallory",
}


def acme_member(acme, alice, email, role=Membership.Role.MEMBER):
    user = accounts.register_user(email, PASSWORD, display_name=email.split("@")[0].title())
    accounts.add_member(acme, Membership.objects.get(tenant=acme, user=alice), email, role)
    return user


@pytest.fixture
def erin(acme, alice):
    return acme_member(acme, alice, "erin@example.com")


@pytest.fixture
def victor(acme, alice):
    return acme_member(acme, alice, "victor@example.com")


@pytest.fixture
def ada(acme, alice):
    return acme_member(acme, alice, "ada@example.com", Membership.Role.ADMIN)


@pytest.fixture
def otto(acme, alice):
    return acme_member(acme, alice, "otto@example.com")


@pytest.fixture
def workflow(acme, bob, erin, victor):
    return services.create_workflow(acme, bob, "Launch plan", [(erin.email, "editor"), (victor.email, "viewer")])


@pytest.fixture
def api_as(request):
    """`api_as("viewer")`: an API client authenticated as the persona playing that caller."""

    def client_for(caller):
        return bearer_client(request.getfixturevalue(CALLERS[caller]))

    return client_for


def access(user, workflow):
    return get_workflow_access(user, workflow.pk)


def who_may_write(allowed_status: int) -> list[tuple[str, int]]:
    """The permission table of every write (post, share, add a participant, custom event):
    initiator and editors may, viewers and non-participant tenant managers get 403, and anyone
    who cannot see the workflow gets 404."""
    return [
        ("viewer", 403),
        ("editor", allowed_status),
        ("initiator", allowed_status),
        ("tenant owner", 403),
        ("tenant admin", 403),
        ("outsider in the tenant", 404),
        ("other tenant", 404),
    ]

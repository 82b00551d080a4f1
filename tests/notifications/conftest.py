"""Alice starts a workflow with bob as editor and carol as viewer; mallory is in another tenant."""

import pytest

from project.accounts import services as accounts
from project.accounts.models import Membership
from tests.conftest import PASSWORD, bearer_client
from workflows import services as workflows
from workflows.access import get_workflow_access


@pytest.fixture
def carol(db, acme, alice):
    user = accounts.register_user("carol@example.com", PASSWORD, display_name="Carol")
    accounts.add_member(acme, Membership.objects.get(user=alice, tenant=acme), user.email)
    return user


@pytest.fixture
def workflow(acme, alice, bob, carol):
    return workflows.create_workflow(acme, alice, "Launch plan", [(bob.email, "editor"), (carol.email, "viewer")])


@pytest.fixture
def access():
    return get_workflow_access


@pytest.fixture
def bob_api(bob):
    return bearer_client(bob)

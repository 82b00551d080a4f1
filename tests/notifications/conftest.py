"""Alice starts a workflow with bob as editor and carol as viewer; mallory is in another tenant."""

import pytest

from tests.conftest import bearer_client
from workflows import services as workflows
from workflows.access import get_workflow_access


@pytest.fixture
def workflow(acme, alice, bob, carol):
    return workflows.create_workflow(acme, alice, "Launch plan", [(bob.email, "editor"), (carol.email, "viewer")])


@pytest.fixture
def access():
    return get_workflow_access


@pytest.fixture
def bob_api(bob):
    return bearer_client(bob)

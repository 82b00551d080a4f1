import pytest

from workflows import services
from workflows.access import get_workflow_access

pytestmark = pytest.mark.django_db


def test_reaching_a_workflow_costs_one_query(acme, alice, django_assert_num_queries):
    workflow = services.create_workflow(acme, alice, "Budget")
    with django_assert_num_queries(1):
        reached = get_workflow_access(alice, workflow.pk)
    assert reached.participant.role == "initiator" and reached.can_manage

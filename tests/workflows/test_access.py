import pytest

from workflows import services
from workflows.access import get_workflow_access, workflows_for

pytestmark = pytest.mark.django_db


def test_reaching_a_workflow_costs_one_query(acme, alice, django_assert_num_queries):
    workflow = services.create_workflow(acme, alice, "Budget")
    with django_assert_num_queries(1):
        reached = get_workflow_access(alice, workflow.pk)
    assert reached.participant.role == "initiator" and reached.can_manage


def test_reaching_a_crowded_workflow_reads_no_participant_rows_but_ones_own(acme, alice, django_assert_num_queries):
    """Every socket connect and API call reaches its workflow: with 1,000 participants the old
    join on participants + DISTINCT read them all (bench/fanout.py). One query, and the SQL
    probes the caller's own participation only."""
    from project.accounts import services as accounts
    from project.accounts.models import Membership

    owner = Membership.objects.get(user=alice, tenant=acme)
    people = []
    for index in range(30):
        user = accounts.register_user(f"p{index}@example.com", None)
        accounts.add_member(acme, owner, user.email)
        people.append((user.email, "editor"))
    workflow = services.create_workflow(acme, alice, "Crowded", people)
    member = people[7][0]
    from project.accounts.models import User

    user = User.objects.get(email=member)
    with django_assert_num_queries(1) as captured:
        reached = get_workflow_access(user, workflow.pk)
    assert reached.participant.role == "editor" and reached.can_write and not reached.can_manage
    sql = captured.captured_queries[0]["sql"].upper()
    assert "DISTINCT" not in sql and "LEFT OUTER JOIN" not in sql
    assert list(workflows_for(user)) == [workflow]


def test_many_accesses_are_one_statement_with_each_ones_answer(acme, alice, bob, carol, mallory, django_assert_num_queries):
    """A socket re-check batch asks for many (user, workflow) pairs at once: the same answer as
    get_workflow_access for each, a refused or deleted one absent, one statement for all."""
    from workflows.access import workflow_accesses

    shared = services.create_workflow(acme, alice, "Shared", [(bob.email, "editor")])
    private = services.create_workflow(acme, alice, "Private")
    gone = services.create_workflow(acme, alice, "Gone", [(bob.email, "editor")])
    services.delete_workflow(get_workflow_access(alice, gone.pk))
    pairs = [(user, workflow.pk) for user in (alice, bob, carol, mallory) for workflow in (shared, private, gone)]
    with django_assert_num_queries(1):
        accesses = workflow_accesses(pairs)
    assert set(accesses) == {(alice.pk, shared.pk), (alice.pk, private.pk), (bob.pk, shared.pk)}
    for (user_id, workflow_id), access in accesses.items():
        one = get_workflow_access(access.user, workflow_id)
        assert (access.user.pk, access.workflow.pk, access.tenant_role) == (user_id, one.workflow.pk, one.tenant_role)
        assert (access.participant and access.participant.role) == (one.participant and one.participant.role)
        assert access.workflow.tenant.pk == acme.pk and access.workflow.initiator.pk == alice.pk

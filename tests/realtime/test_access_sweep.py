"""The periodic re-check of a process's sockets (project/realtime/access_sweep.py): batched,
and still exact for each socket."""

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from project.accounts import services
from project.accounts.services import SocketCredential
from project.realtime.access_sweep import check_sockets
from workflows import services as workflow_services
from workflows.consumers import WorkflowConsumer
from workflows.models import Participant

from .sockets import ORIGIN, expect_close, open_ready_socket, receive_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def workflow(acme, alice, bob):
    return workflow_services.create_workflow(acme, alice, "Launch plan", [(bob.email, "editor")])


@database_sync_to_async
def new_ticket(user, token):
    return services.issue_ws_ticket(user, token)[1]


async def test_a_right_ended_in_bulk_closes_only_the_sockets_that_held_it(workflow, alice, bob, settings):
    """Two tabs each for Alice and Bob on one workflow, all in this process; Bob's participation
    is deleted without an event: the next sweep closes his two sockets, and only his."""
    settings.REALTIME_ACCESS_RECHECK_SECONDS = 0.2
    tokens = {user: (await database_sync_to_async(services.issue_api_token)(user, "tabs"))[0] for user in (alice, bob)}
    path = f"/ws/workflow/{workflow.pk}/?ticket="
    sockets = {
        user: [await open_ready_socket(path + await new_ticket(user, tokens[user]), headers=[ORIGIN]) for _ in range(2)]
        for user in (alice, bob)
    }

    await database_sync_to_async(Participant.objects.filter(workflow=workflow, user=bob).delete)()

    for communicator in sockets[bob]:
        await expect_close(communicator, 4403)
    for communicator in sockets[alice]:  # still open, and still answered
        await communicator.send_json_to({"type": "ping"})
        frame = await receive_json(communicator)
        while frame["type"] == "presence":  # Bob's sockets leaving
            frame = await receive_json(communicator)
        assert frame == {"type": "pong"}
        await communicator.disconnect()


def socket_of(user, token, workflow) -> WorkflowConsumer:
    socket = WorkflowConsumer()
    socket.scope = {"url_route": {"kwargs": {"workflow_id": str(workflow.pk)}}}
    socket.credential = SocketCredential(user.pk, token_id=token.pk)
    return socket


def test_a_batchs_queries_do_not_grow_with_its_sockets(workflow, alice, bob, carol):
    """Users, tokens and the workflow rights are read once per batch: ten tabs of three people
    cost what one tab each does. Carol is no participant: refused, in the same batch."""
    tokens = {user: services.issue_api_token(user, "tabs")[0] for user in (alice, bob, carol)}

    def queries_to_check(tabs: int) -> tuple[int, list]:
        sockets = [socket_of(user, tokens[user], workflow) for user in (alice, bob, carol) for _ in range(tabs)]
        with CaptureQueriesContext(connection) as queries:
            checked = check_sockets(sockets)
        return len(queries), [(user and user.pk, groups) for user, groups in checked]

    one_tab, checked = queries_to_check(1)
    ten_tabs, checked_ten = queries_to_check(10)
    group = [workflow.group]
    assert checked == [(alice.pk, group), (bob.pk, group), (carol.pk, None)]
    assert checked_ten == [(alice.pk, group)] * 10 + [(bob.pk, group)] * 10 + [(carol.pk, None)] * 10
    assert ten_tabs == one_tab == 3  # users, tokens, the rights of all three


def test_a_revoked_token_fails_only_its_own_sockets(workflow, alice):
    kept, revoked = (services.issue_api_token(alice, name)[0] for name in ("kept", "revoked"))
    services.revoke_api_token(revoked)
    checked = check_sockets([socket_of(alice, kept, workflow), socket_of(alice, revoked, workflow)])
    assert [(user and user.pk, groups) for user, groups in checked] == [(alice.pk, [workflow.group]), (None, None)]

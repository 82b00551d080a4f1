"""Every WebSocket route × every persona → ready or the close code, from one table. A route
with no row fails `test_every_socket_route_has_a_row`."""

import json

import pytest
from channels.db import database_sync_to_async

from project.routing import websocket_urlpatterns
from tests.realtime.sockets import ORIGIN, open_socket

from .conftest import PERSONAS, client_for

pytestmark = pytest.mark.django_db(transaction=True)

READY = "ready"


def expect(anonymous, outsider, non_participant, viewer, editor, initiator, staff):
    return dict(zip(PERSONAS, (anonymous, outsider, non_participant, viewer, editor, initiator, staff)))


WORKFLOW = expect(4401, 4403, 4403, READY, READY, READY, 4403)

# (route pattern as in project/routing.py, path, expected by persona)
MATRIX = [
    ("ws/user/", "/ws/user/", expect(4401, READY, READY, READY, READY, READY, READY)),
    ("^ws/tenants/(?P<tenant_id>[A-Za-z0-9]+)/$", "/ws/tenants/{tenant}/", expect(4401, 4403, READY, READY, READY, READY, 4403)),
    ("^ws/workflow/(?P<workflow_id>[A-Za-z0-9]+)/$", "/ws/workflow/{workflow}/", WORKFLOW),
    ("^workflow/(?P<workflow_id>[A-Za-z0-9]+)/websocket/?$", "/workflow/{workflow}/websocket", WORKFLOW),
    ("ws/notifications/", "/ws/notifications/", expect(4401, READY, READY, READY, READY, READY, READY)),
    ("ws/queue/", "/ws/queue/", expect(4401, READY, READY, READY, READY, READY, READY)),
    # Anyone signed in: it follows only the workflows they take part in (tests/workflows/test_inbox.py).
    ("^ws/inbox/$", "/ws/inbox/", expect(4401, READY, READY, READY, READY, READY, READY)),
    (
        "^notifications/(?P<email>[^/]+)/websocket/?$",
        "/notifications/{editor_email}/websocket",
        expect(4401, 4403, 4403, 4403, READY, 4403, 4403),
    ),
    # Any other path.
    ("", "/ws/nope/", expect(4404, 4404, 4404, 4404, 4404, 4404, 4404)),
]


def test_every_socket_route_has_a_row():
    assert {str(route.pattern) for route in websocket_urlpatterns} == {row[0] for row in MATRIX}


@database_sync_to_async
def headers_for(world, persona):
    client = client_for(world, persona)
    if persona == "anonymous":
        return [ORIGIN]
    return [ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


@pytest.mark.parametrize("route, path, expected", MATRIX, ids=[row[1] for row in MATRIX])
async def test_socket_answers_each_persona_as_expected(world, route, path, expected):
    answered = {}
    for persona in PERSONAS:
        communicator, first = await open_socket(path.format(**world.values()), await headers_for(world, persona))
        answered[persona] = first["code"] if first["type"] == "websocket.close" else json.loads(first["text"])["type"]
        await communicator.disconnect()
    assert answered == expected

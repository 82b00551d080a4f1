"""Rights that end while connected: every socket route × every way a right ends → closed with
4401 or 4403, or still open, from one table; and the HTTP side of the same ends.

The persona is the editor of the matrix world (tests/security/conftest.py): an Acme member who
takes part in the workflow. Each row opens one socket per route with the row's credential,
ends the right once, and reads what each socket does, without sending it anything (a socket
that waited for an inbound frame would stay subscribed forever)."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.forms import CheckboxInput, MultiWidget
from django.test import Client

from project.accounts import services as accounts
from project.accounts.access import get_membership
from project.accounts.models import Membership, User
from project.routing import websocket_urlpatterns
from tests.conftest import PASSWORD
from tests.realtime.sockets import ORIGIN, open_socket, session_headers
from workflows import services as workflows
from workflows.access import get_workflow_access

pytestmark = pytest.mark.django_db(transaction=True)

OPEN = "open"
NEW_PASSWORD = "a different horse battery staple"

# (route pattern as in project/routing.py, path)
ROUTES = [
    ("ws/user/", "/ws/user/"),
    ("^ws/tenants/(?P<tenant_id>[A-Za-z0-9]+)/$", "/ws/tenants/{tenant}/"),
    ("^ws/workflow/(?P<workflow_id>[A-Za-z0-9]+)/$", "/ws/workflow/{workflow}/"),
    ("^workflow/(?P<workflow_id>[A-Za-z0-9]+)/websocket/?$", "/workflow/{workflow}/websocket"),
    ("ws/notifications/", "/ws/notifications/"),
    ("^notifications/(?P<email>[^/]+)/websocket/?$", "/notifications/{editor_email}/websocket"),
    ("ws/queue/", "/ws/queue/"),
    ("ws/queue/", "/ws/queue/?tenant={tenant}"),
    ("^ws/inbox/$", "/ws/inbox/"),
]


def expect(user, tenant, workflow, workflow_original, notifications, notifications_original, queue, queue_tenant, inbox):
    paths = [path for _, path in ROUTES]
    values = (user, tenant, workflow, workflow_original, notifications, notifications_original, queue, queue_tenant, inbox)
    return dict(zip(paths, values))


EVERY = {code: expect(*[code] * len(ROUTES)) for code in (4401, OPEN)}

# (how the right ends, the socket's credential, what each route's socket does). An inbox socket
# stays open when a workflow's right ends: it leaves that workflow's group (tests/workflows/test_inbox.py).
MATRIX = [
    ("tenant removal", "session", expect(OPEN, 4403, 4403, 4403, OPEN, OPEN, OPEN, 4403, OPEN)),
    ("tenant removal", "token ticket", expect(OPEN, 4403, 4403, 4403, OPEN, OPEN, OPEN, 4403, OPEN)),
    ("tenant removal in the admin", "session", expect(OPEN, 4403, 4403, 4403, OPEN, OPEN, OPEN, 4403, OPEN)),
    ("tenant removal in the admin's tenant page", "session", expect(OPEN, 4403, 4403, 4403, OPEN, OPEN, OPEN, 4403, OPEN)),
    ("participant removal", "session", expect(OPEN, OPEN, 4403, 4403, OPEN, OPEN, OPEN, OPEN, OPEN)),
    ("workflow deleted", "session", expect(OPEN, OPEN, 4403, 4403, OPEN, OPEN, OPEN, OPEN, OPEN)),
    ("token revoked", "token ticket", EVERY[4401]),
    ("password changed", "session", EVERY[4401]),
    ("password changed", "session ticket", EVERY[4401]),
    # An API token outlives a password change, on REST as on its sockets; revoke it to end it.
    ("password changed", "token ticket", EVERY[OPEN]),
    ("user deactivated", "session", EVERY[4401]),
    ("user deactivated", "token ticket", EVERY[4401]),
    ("logout", "session", EVERY[4401]),
    ("logout", "session ticket", EVERY[4401]),
    ("logout in the admin", "session", EVERY[4401]),
    ("logout in the admin", "session ticket", EVERY[4401]),
]


def test_every_socket_route_has_a_column():
    routes = {str(route.pattern) for route in websocket_urlpatterns} - {""}  # "": the 4404 fallback
    assert routes == {pattern for pattern, _ in ROUTES}


class Editor:
    """The editor's browser (a logged-in session) and an API token of theirs."""

    def __init__(self, world):
        self.world = world
        self.user = world.users["editor"]
        self.browser = Client()
        self.browser.force_login(self.user)
        self.token, _ = accounts.issue_api_token(self.user, "bot")

    def headers(self, credential: str) -> tuple[str, list]:
        """(query to add, headers) for one socket opened with `credential`."""
        if credential == "session":
            return "", session_headers(self.browser)
        if credential == "token ticket":
            _, ticket = accounts.issue_ws_ticket(self.user, self.token)
        else:  # a ticket asked for by the browser session, as the pages do
            response = self.browser.post("/api/ws-ticket")
            assert response.status_code == 201, response.content
            ticket = response.json()["ticket"]
        return f"ticket={ticket}", [ORIGIN]

    def end(self, how: str) -> None:
        world, user = self.world, self.user
        if how == "tenant removal":
            owner = get_membership(world.users["owner"], world.tenant_id)
            accounts.remove_member(owner.tenant, owner, user.email)
        elif how.startswith("tenant removal in the admin"):
            admin = Client()
            admin.force_login(User.objects.create_superuser("root@example.com", PASSWORD))
            membership = Membership.objects.get(tenant_id=world.tenant_id, user=user)
            if how == "tenant removal in the admin":
                response = admin.post(f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"})
            else:  # the Memberships inline of the tenant's change form, its row deleted
                url = f"/admin/accounts/tenant/{world.tenant_id}/change/"
                data = admin_form_data(admin.get(url))
                row = next(k for k, v in data.items() if k.endswith("-id") and str(v) == str(membership.pk))
                data[row.removesuffix("-id") + "-DELETE"] = "on"
                response = admin.post(url, data)
            assert response.status_code == 302, response.content[-2000:]
            assert not Membership.objects.filter(pk=membership.pk).exists()
        elif how == "participant removal":
            workflows.remove_participant(get_workflow_access(world.users["initiator"], world.workflow_id), user.email)
        elif how == "workflow deleted":
            workflows.delete_workflow(get_workflow_access(world.users["initiator"], world.workflow_id))
        elif how == "token revoked":
            accounts.revoke_api_token(self.token)
        elif how == "password changed":  # in another browser, through the page
            other = Client()
            other.force_login(user)
            form = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
            assert other.post("/accounts/password/", form).status_code == 302
        elif how == "user deactivated":  # what the admin's change form does
            user.is_active = False
            user.save()
        elif how == "logout":
            assert self.browser.post("/accounts/logout/").status_code == 302
        elif how == "logout in the admin":  # Django's own LogoutView, not Harbor's
            User.objects.filter(pk=user.pk).update(is_staff=True)
            response = self.browser.post("/admin/logout/")
            assert response.status_code == 302 and "_auth_user_id" not in self.browser.session, response
        else:
            raise AssertionError(how)


def admin_form_data(page) -> dict:
    """What a browser would post back from an admin change form, as rendered."""
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for field in form:
            widget, value = getattr(field.field.widget, "widget", field.field.widget), field.value()
            if isinstance(widget, MultiWidget):  # the date and the time of a datetime
                for suffix, part in zip(widget.widgets_names, widget.decompress(value)):
                    data[field.html_name + suffix] = part
            elif isinstance(widget, CheckboxInput):
                if value:
                    data[field.html_name] = "on"
            elif value is not None:
                data[field.html_name] = value
    return data


async def outcome(communicator, wait=1.5) -> str | int:
    """The close code the server sends within `wait` seconds, or OPEN if it sends none and
    still answers a ping after that. (receive_nothing: a receive_output that times out
    cancels the application.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline:
        if await communicator.receive_nothing(timeout=0.1):
            continue
        message = await communicator.receive_output(timeout=1)
        if message["type"] == "websocket.close":
            return message["code"]
    await communicator.send_json_to({"type": "ping"})
    while True:
        message = await communicator.receive_output(timeout=3)
        if message["type"] == "websocket.close":
            return message["code"]
        if json.loads(message["text"])["type"] == "pong":
            return OPEN


async def outcomes(sockets: dict) -> dict:
    """What each socket does, read together (a close is pushed to all at once)."""
    answered = dict(zip(sockets, await asyncio.gather(*(outcome(c) for c in sockets.values()))))
    for communicator in sockets.values():
        await communicator.disconnect()
    return answered


@pytest.mark.parametrize("how, credential, expected", MATRIX, ids=[f"{row[0]}, {row[1]}" for row in MATRIX])
async def test_a_right_that_ends_closes_the_sockets_that_held_it(world, how, credential, expected):
    editor = await database_sync_to_async(Editor)(world)
    sockets = {}
    for path in expected:
        query, headers = await database_sync_to_async(editor.headers)(credential)
        url = path.format(**world.values())
        if query:
            url += ("&" if "?" in url else "?") + query
        communicator, first = await open_socket(url, headers)
        assert first["type"] == "websocket.send" and json.loads(first["text"])["type"] == "ready", (path, first)
        sockets[path] = communicator

    await database_sync_to_async(editor.end)(how)

    assert await outcomes(sockets) == expected


@pytest.mark.parametrize("how", ["logout", "password changed", "user deactivated"])
async def test_a_ticket_from_a_session_that_ended_is_refused(world, how):
    editor = await database_sync_to_async(Editor)(world)
    query, headers = await database_sync_to_async(editor.headers)("session ticket")
    await database_sync_to_async(editor.end)(how)
    communicator, closed = await open_socket(f"/ws/user/?{query}", headers)
    assert closed == {"type": "websocket.close", "code": 4401}


# The HTTP side of the same ends: (how, credential, path, status before, status after).
HTTP_MATRIX = [
    ("tenant removal", "token", "/api/tenants/{tenant}/members", 200, 404),
    ("tenant removal", "token", "/api/workflows/{workflow}", 200, 404),
    ("participant removal", "token", "/api/workflows/{workflow}", 200, 404),
    ("workflow deleted", "token", "/api/workflows/{workflow}", 200, 404),
    ("token revoked", "token", "/api/auth/tokens", 200, 401),
    ("password changed", "session", "/api/auth/tokens", 200, 401),
    ("password changed", "token", "/api/auth/tokens", 200, 200),
    ("user deactivated", "token", "/api/auth/tokens", 200, 401),
    ("user deactivated", "session", "/api/auth/tokens", 200, 401),
    ("logout", "session", "/api/auth/tokens", 200, 401),
    ("logout in the admin", "session", "/api/auth/tokens", 200, 401),
]


@pytest.mark.parametrize("how, credential, path, before, after", HTTP_MATRIX, ids=[f"{r[0]}, {r[1]}, {r[2]}" for r in HTTP_MATRIX])
def test_a_right_that_ends_ends_on_rest_too(world, how, credential, path, before, after):
    editor = Editor(world)
    if credential == "token":
        _, raw = accounts.issue_api_token(editor.user, "script")
        client = Client(headers={"authorization": f"Bearer {raw}"})
        if how == "token revoked":
            editor.token = editor.user.api_tokens.get(prefix=raw[:10])
    else:
        client = editor.browser
    url = path.format(**world.values())
    assert client.get(url).status_code == before
    editor.end(how)
    assert client.get(url).status_code == after


async def open_sockets(paths, headers) -> dict:
    sockets = {}
    for path in paths:
        communicator, first = await open_socket(path, headers)
        assert first["type"] == "websocket.send" and json.loads(first["text"])["type"] == "ready", (path, first)
        sockets[path] = communicator
    return sockets


def superuser_client() -> Client:
    admin = Client()
    admin.force_login(User.objects.create_superuser("root@example.com", PASSWORD))
    return admin


async def test_a_tenant_deleted_in_the_admin_closes_its_members_sockets(world):
    """Deleting a tenant ends every membership of it at once (a tenant with workflows cannot be
    deleted: they protect it)."""

    def setup():
        empty = accounts.create_tenant(world.users["owner"], "Empty")
        accounts.add_member(empty, Membership.objects.get(tenant=empty), world.users["editor"].email)
        browser = Client()
        browser.force_login(world.users["editor"])
        return empty.pk, session_headers(browser)

    tenant_id, headers = await database_sync_to_async(setup)()
    sockets = await open_sockets(
        [f"/ws/tenants/{tenant_id}/", f"/ws/queue/?tenant={tenant_id}", f"/ws/tenants/{world.tenant_id}/", "/ws/user/"], headers
    )

    def delete():
        response = superuser_client().post(f"/admin/accounts/tenant/{tenant_id}/delete/", {"post": "yes"})
        assert response.status_code == 302, response.content[-2000:]

    await database_sync_to_async(delete)()
    assert await outcomes(sockets) == {
        f"/ws/tenants/{tenant_id}/": 4403, f"/ws/queue/?tenant={tenant_id}": 4403, f"/ws/tenants/{world.tenant_id}/": OPEN, "/ws/user/": OPEN,
    }


@pytest.mark.parametrize("how", ["change form", "bulk action"])
async def test_a_user_deleted_in_the_admin_has_every_socket_closed(world, how):
    """The newcomer (an Acme member with nothing that protects their row) is deleted."""
    newcomer = world.users["newcomer"]

    def setup():
        browser = Client()
        browser.force_login(newcomer)
        return session_headers(browser)

    paths = ["/ws/user/", f"/ws/tenants/{world.tenant_id}/", f"/ws/queue/?tenant={world.tenant_id}", "/ws/notifications/", "/ws/inbox/"]
    sockets = await open_sockets(paths, await database_sync_to_async(setup)())

    def delete():
        admin = superuser_client()
        if how == "change form":
            response = admin.post(f"/admin/accounts/user/{newcomer.pk}/delete/", {"post": "yes"})
        else:
            form = {"action": "delete_selected", "_selected_action": [newcomer.pk], "post": "yes"}
            response = admin.post("/admin/accounts/user/", form)
        assert response.status_code == 302, response.content[-2000:]
        assert not User.objects.filter(pk=newcomer.pk).exists()

    await database_sync_to_async(delete)()
    assert await outcomes(sockets) == dict.fromkeys(paths, 4401)

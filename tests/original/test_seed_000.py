"""Seed 000 (../shared/seeds/000_*.txt): its clients' routes, replayed with the only change
such a client makes, a bearer token, and answered in the shapes those routes have always had:
`/api/workflow` (page-numbered lists), `/api/workflow/messages` with `workflowId` and `after`,
integer message and notification ids, `/workflow/{id}/notification` → `custom.<type>`, and the
sockets `/workflow/{id}/websocket` and `/notifications/{email}/websocket`."""

import json

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from notifications import services as notifications
from notifications.models import Kind, Notification
from project.realtime.models import Event
from workflows import services as workflows
from workflows.access import get_workflow_access
from workflows.models import Message

from ..conftest import PASSWORD, TINY_PNG, bearer_client
from ..realtime.sockets import connect, open_socket

HOST = (b"host", b"testserver")


def token_client(email):
    """What a seed client does first: a bearer token for its user."""
    token = APIClient().post("/api/auth/token", {"email": email, "password": PASSWORD}, format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


async def seed_socket(client, path):
    """A socket the way a non-browser client opens one: a ticket from its bearer token."""
    ticket = (await database_sync_to_async(client.post)("/api/ws-ticket")).json()["ticket"]
    communicator = await connect(f"{path}?ticket={ticket}", headers=[HOST])
    ready = json.loads(await communicator.receive_from(timeout=5))
    assert ready["type"] == "ready"
    return communicator


async def frame_of(communicator, wanted, timeout=5):
    while True:
        frame = json.loads(await communicator.receive_from(timeout=timeout))
        if frame["type"] == wanted:
            return frame


@pytest.mark.django_db(transaction=True)
async def test_the_seeds_flow_create_message_socket_custom_event_check_and_clear(acme, alice, bob):
    bobs_client, alices_client = await database_sync_to_async(lambda: (token_client(bob.email), token_client(alice.email)))()
    call = database_sync_to_async(lambda client, method, *args, **kwargs: getattr(client, method)(*args, **kwargs))

    # POST /api/workflow: Bob starts a workflow with Alice as editor.
    body = {"tenant_id": acme.pk, "title": "Launch plan", "participants": [{"email": alice.email, "role": "editor"}]}
    created = await call(bobs_client, "post", "/api/workflow", body, format="json")
    assert created.status_code == 201
    workflow = created.json()
    assert (workflow["title"], workflow["status"], workflow["initiator"]) == ("Launch plan", "active", bob.email)

    # GET /api/workflow, GET and PUT /api/workflow/[id]
    listed = (await call(alices_client, "get", "/api/workflow")).json()
    assert set(listed) == {"count", "next", "previous", "results"} and listed["count"] == 1
    assert listed["results"][0]["id"] == workflow["id"]
    detail = (await call(alices_client, "get", f"/api/workflow/{workflow['id']}")).json()
    assert [p["email"] for p in detail["participants"]] == [bob.email, alice.email]
    renamed = await call(bobs_client, "put", f"/api/workflow/{workflow['id']}", {"title": "Launch"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Launch"

    # Alice's sockets: the workflow's and her notifications'.
    workflow_socket = await seed_socket(alices_client, f"/workflow/{workflow['id']}/websocket")
    bell = await seed_socket(alices_client, f"/notifications/{alice.email}/websocket")

    # POST /api/workflow/messages {workflowId, content}: the socket gets the same message.
    posted = await call(bobs_client, "post", "/api/workflow/messages", {"workflowId": workflow["id"], "content": "Ship it @**Alice**"}, format="json")
    assert posted.status_code == 201
    message = posted.json()
    assert isinstance(message["id"], int) and message["content"] == "Ship it @**Alice**" and message["sender"] == bob.email
    frame = await frame_of(workflow_socket, "message.created")
    assert frame["data"]["message"] == message

    # GET /api/workflow/messages?workflowId=
    page = (await call(alices_client, "get", f"/api/workflow/messages?workflowId={workflow['id']}")).json()
    assert page == {"results": [message], "cursor": message["id"], "has_more": False}
    after = (await call(alices_client, "get", f"/api/workflow/messages?workflowId={workflow['id']}&after={message['id']}")).json()
    assert after == {"results": [], "cursor": message["id"], "has_more": False}

    # POST /workflow/{id}/notification: the workflow's sockets get custom.<type>.
    pushed = await call(bobs_client, "post", f"/workflow/{workflow['id']}/notification", {"type": "build.done", "data": {"ok": True}}, format="json")
    assert pushed.status_code == 202
    frame = await frame_of(workflow_socket, "custom.build.done")
    assert frame["data"] == {"by": bob.email, "payload": {"ok": True}}

    # The message mentioned Alice (who was told before that Bob added her): her socket, then
    # /check and /clear.
    created_frame = await frame_of(bell, "notification.created")
    assert created_frame["data"]["unread"] == 2
    notification = created_frame["data"]["notification"]
    assert isinstance(notification["id"], int) and notification["kind"] == "workflow.mention"
    check = (await call(alices_client, "get", f"/notifications/{alice.email}/check")).json()
    assert check["unread"] == 2 and check["latest"][0] == notification
    assert [n["kind"] for n in check["latest"]] == ["workflow.mention", "workflow.participant_added"]
    cleared = (await call(alices_client, "post", f"/notifications/{alice.email}/clear")).json()
    assert cleared == {"cleared": 2, "unread": 0}
    count_frame = await frame_of(bell, "notification.count")
    assert count_frame["data"] == {"unread": 0}

    await workflow_socket.disconnect()
    await bell.disconnect()


# --- /api/workflow ----------------------------------------------------------------------------


@pytest.fixture
def workflow(acme, alice, bob, carol):
    return workflows.create_workflow(acme, alice, "Launch plan", [(bob.email, "editor"), (carol.email, "viewer")])


def post_messages(user, workflow, count):
    return [workflows.post_message(get_workflow_access(user, workflow.pk), f"Message {n}").pk for n in range(count)]


@pytest.mark.django_db
def test_the_workflow_list_is_page_numbered_and_filters_by_tenant(alice, acme, workflow):
    client = bearer_client(alice)
    own_tenant = alice.memberships.exclude(tenant=acme).get().tenant
    workflows.create_workflow(own_tenant, alice, "Elsewhere")
    page = client.get("/api/workflow?page_size=1").json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]
    assert [w["title"] for w in client.get(f"/api/workflow?tenant={acme.pk}").json()["results"]] == ["Launch plan"]
    response = client.get("/api/workflow?tenant=nottenant000")
    assert response.status_code == 400 and "tenant" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_put_changes_only_what_is_sent_and_a_viewer_may_not(workflow, alice, carol):
    assert bearer_client(carol).put(f"/api/workflow/{workflow.pk}", {"title": "No"}, format="json").status_code == 403
    response = bearer_client(alice).put(f"/api/workflow/{workflow.pk}", {"status": "completed"}, format="json")
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["status"]) == ("Launch plan", "completed")


@pytest.mark.django_db
def test_the_seed_names_no_delete_or_patch(workflow, alice):
    client = bearer_client(alice)
    assert client.delete(f"/api/workflow/{workflow.pk}").status_code == 405
    assert client.patch(f"/api/workflow/{workflow.pk}", {"title": "x"}, format="json").status_code == 405


# --- /api/workflow/messages -------------------------------------------------------------------


@pytest.mark.django_db
def test_messages_page_by_workflow_id_after_a_message_id(workflow, bob, carol):
    ids = post_messages(bob, workflow, 3)
    client = bearer_client(carol)
    page = client.get(f"/api/workflow/messages?workflowId={workflow.pk}&after={ids[0]}&limit=1").json()
    assert [m["id"] for m in page["results"]] == [ids[1]]
    assert page["cursor"] == ids[1] and page["has_more"] is True
    assert client.get(f"/api/workflow/messages?workflowId={workflow.pk}").json()["cursor"] == ids[2]


@pytest.mark.django_db
def test_a_shared_file_has_an_absolute_link(workflow, bob, carol):
    from django.core.files.uploadedfile import SimpleUploadedFile

    shared = workflows.share_file(get_workflow_access(bob, workflow.pk), SimpleUploadedFile("a.png", TINY_PNG, "image/png"))
    [message] = bearer_client(carol).get(f"/api/workflow/messages?workflowId={workflow.pk}").json()["results"]
    assert message["share_url"] == f"http://testserver/share/{shared.share_token}"


@pytest.mark.django_db
@pytest.mark.parametrize("caller, expected", [("bob", 201), ("carol", 403), ("mallory", 404)])
def test_who_may_post_by_workflow_id(request, workflow, caller, expected):
    client = bearer_client(request.getfixturevalue(caller))
    response = client.post("/api/workflow/messages", {"workflowId": workflow.pk, "content": "Hi"}, format="json")
    assert response.status_code == expected
    assert Message.objects.filter(workflow=workflow).count() == (1 if expected == 201 else 0)


@pytest.mark.django_db
def test_a_missing_workflow_id_is_a_400_naming_it(bob):
    client = bearer_client(bob)
    for response in (client.post("/api/workflow/messages", {"content": "Where?"}, format="json"), client.get("/api/workflow/messages")):
        assert response.status_code == 400
        assert "workflowId" in response.json()["error"]["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field",
    [("after=-1", "after"), ("after=abc", "after"), (f"after={2**63}", "after"), ("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit")],
)
def test_a_bad_after_or_limit_is_a_400_naming_it(workflow, carol, query, field):
    response = bearer_client(carol).get(f"/api/workflow/messages?workflowId={workflow.pk}&{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_the_message_list_costs_the_same_queries_for_any_count(workflow, bob, carol, django_assert_num_queries):
    client = APIClient()
    client.force_authenticate(carol)
    post_messages(bob, workflow, 1)
    path = f"/api/workflow/messages?workflowId={workflow.pk}&limit=200"
    with CaptureQueriesContext(connection) as one:
        assert client.get(path).status_code == 200
    post_messages(bob, workflow, 30)
    with django_assert_num_queries(len(one)):
        assert len(client.get(path).json()["results"]) == 31


# --- /workflow/{id}/notification --------------------------------------------------------------


@pytest.mark.django_db
def test_a_custom_event_is_custom_type_in_the_log_too(workflow, bob, carol):
    body = {"type": "build.done", "data": {"ok": True}}
    assert bearer_client(bob).post(f"/workflow/{workflow.pk}/notification", body, format="json").status_code == 202
    assert bearer_client(carol).post(f"/workflow/{workflow.pk}/notification", body, format="json").status_code == 403
    events = Event.objects.filter(group=workflow.group, type__startswith="custom.")
    assert list(events.values_list("type", "data")) == [("custom.build.done", {"by": bob.email, "payload": {"ok": True}})]
    response = bearer_client(bob).post(f"/workflow/{workflow.pk}/notification", {"type": "Bad Type"}, format="json")
    assert response.status_code == 400 and "type" in response.json()["error"]["fields"]


# --- /notifications/{email}/check and /clear --------------------------------------------------


@pytest.fixture
def bobs(bob):
    return [notifications.notify([bob], Kind.QUEUE_REPLY, title=f"Reply {n}")[0] for n in range(4)]


@pytest.fixture
def bob_api(bob):
    return bearer_client(bob)


@pytest.mark.django_db
@override_settings(NOTIFICATIONS_CHECK_LATEST=2)
def test_check_gives_the_unread_count_and_the_newest(bob_api, bob, bobs):
    notifications.mark_read(bob, [bobs[3].pk])
    body = bob_api.get(f"/notifications/{bob.email}/check").json()
    assert body["unread"] == 3
    assert [n["title"] for n in body["latest"]] == ["Reply 3", "Reply 2"]
    assert body["latest"][0]["read_at"] is not None and body["latest"][0]["id"] == bobs[3].pk


@pytest.mark.django_db
def test_the_email_matches_case_insensitively(bob_api, bob, bobs):
    assert bob_api.get(f"/notifications/{bob.email.upper()}/check").json()["unread"] == 4


@pytest.mark.django_db
def test_clear_marks_all_read_and_pushes_the_count(bob_api, bob, bobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = bob_api.post(f"/notifications/{bob.email}/clear")
    assert response.status_code == 200
    assert response.json() == {"cleared": 4, "unread": 0}
    assert not Notification.objects.filter(recipient=bob, read_at__isnull=True).exists()
    assert Event.objects.filter(group=f"user.{bob.pk}", type="notification_count.changed").last().data == {"unread": 0}


@pytest.mark.django_db
def test_clear_with_ids_marks_only_those(bob_api, bob, bobs):
    response = bob_api.post(f"/notifications/{bob.email}/clear", {"ids": [bobs[0].pk, bobs[2].pk]}, format="json")
    assert response.json() == {"cleared": 2, "unread": 2}


@pytest.mark.django_db
def test_clearing_again_changes_nothing_and_pushes_nothing(bob_api, bob, bobs):
    bob_api.post(f"/notifications/{bob.email}/clear")
    pushed = Event.objects.filter(type="notification_count.changed").count()
    assert bob_api.post(f"/notifications/{bob.email}/clear").json() == {"cleared": 0, "unread": 0}
    assert Event.objects.filter(type="notification_count.changed").count() == pushed


@pytest.mark.django_db
def test_ids_of_someone_else_clear_nothing_of_theirs(bob_api, bob, carol):
    [theirs] = notifications.notify([carol], Kind.QUEUE_REPLY, title="Carol's")
    assert bob_api.post(f"/notifications/{bob.email}/clear", {"ids": [theirs.pk]}, format="json").json()["cleared"] == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("ids", [[], ["seven"], [0], "1,2", list(range(1, 1002))])
def test_bad_ids_are_a_400_naming_the_field(bob_api, bob, ids):
    response = bob_api.post(f"/notifications/{bob.email}/clear", {"ids": ids}, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()["error"]["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("method, route", [("get", "check"), ("post", "clear")])
def test_another_users_email_is_a_404_on_every_route(bob_api, carol, method, route):
    [theirs] = notifications.notify([carol], Kind.QUEUE_REPLY, title="Carol's secret")
    response = getattr(bob_api, method)(f"/notifications/{carol.email}/{route}")
    assert response.status_code == 404
    assert "secret" not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("method, route", [("get", "check"), ("post", "clear")])
def test_anonymous_callers_get_401(bob, method, route):
    assert getattr(APIClient(), method)(f"/notifications/{bob.email}/{route}").status_code == 401


@pytest.mark.django_db
def test_a_browser_session_needs_the_csrf_token_to_clear(bob, bobs):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(bob)
    assert browser.get(f"/notifications/{bob.email}/check").status_code == 200
    assert browser.post(f"/notifications/{bob.email}/clear").status_code == 403
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_check_costs_the_same_few_queries_however_many_there_are(bob_api, bob, count, django_assert_num_queries):
    for n in range(count):
        notifications.notify([bob], Kind.QUEUE_REPLY, title=f"n{n}")
    bob_api.get(f"/notifications/{bob.email}/check")  # the token's first use records it
    # the token, the unread count, the latest page
    with django_assert_num_queries(3):
        assert bob_api.get(f"/notifications/{bob.email}/check").json()["unread"] == count


# --- the sockets ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_notification_socket_refuses_someone_elses_email(bob, alice):
    client = await database_sync_to_async(bearer_client)(bob)
    ticket = (await database_sync_to_async(client.post)("/api/ws-ticket")).json()["ticket"]
    _, closed = await open_socket(f"/notifications/{alice.email}/websocket?ticket={ticket}", headers=[HOST])
    assert closed == {"type": "websocket.close", "code": 4403}

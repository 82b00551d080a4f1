import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from project.accounts import services
from project.asgi import application
from project.realtime.services import publish

from .sockets import ORIGIN, expect_close, open_ready_socket, open_socket, receive_json, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def logged_in_client(client, user):
    client.force_login(user)
    return client


@database_sync_to_async
def new_ticket(user, token=None):
    return services.issue_ws_ticket(user, token)[1]


async def test_it_closes_an_anonymous_socket_with_4401():
    communicator, first = await open_socket("/ws/user/")
    assert first == {"type": "websocket.close", "code": 4401}


async def test_a_browser_session_subscribes_to_its_user_events(client, alice):
    await logged_in_client(client, alice)
    communicator, first = await open_socket("/ws/user/", session_headers(client))
    ready = json.loads(first["text"])
    assert ready["type"] == "ready"
    assert ready["data"]["groups"] == [f"user.{alice.pk}"]
    await communicator.disconnect()


async def test_it_rejects_a_foreign_origin(client, alice, caplog):
    await logged_in_client(client, alice)
    headers = [(b"origin", b"https://evil.example"), session_headers(client)[1]]
    communicator = WebsocketCommunicator(application, "/ws/user/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    assert "websocket origin rejected" in caplog.text
    assert "evil.example" in caplog.text


async def test_a_ticket_opens_exactly_one_socket(alice):
    ticket = await new_ticket(alice)
    first = await open_ready_socket(f"/ws/user/?ticket={ticket}", headers=[])
    second, closed = await open_socket(f"/ws/user/?ticket={ticket}", headers=[])
    assert closed == {"type": "websocket.close", "code": 4401}
    await first.disconnect()


async def test_an_unknown_ticket_is_refused(alice):
    communicator, closed = await open_socket("/ws/user/?ticket=not-a-ticket")
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_ticket_does_not_waive_the_origin_check_for_browsers(alice):
    ticket = await new_ticket(alice)
    communicator = WebsocketCommunicator(
        application, f"/ws/user/?ticket={ticket}", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert not connected


async def test_revoking_a_token_closes_its_sockets(alice):
    token, _ = await database_sync_to_async(services.issue_api_token)(alice, "bot")
    ticket = await new_ticket(alice, token)
    communicator = await open_ready_socket(f"/ws/user/?ticket={ticket}", headers=[ORIGIN])
    await database_sync_to_async(services.revoke_api_token)(token)
    await expect_close(communicator, 4401)


async def test_logging_out_closes_that_sessions_sockets(client, alice):
    await logged_in_client(client, alice)
    communicator = await open_ready_socket("/ws/user/", session_headers(client))
    response = await database_sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    await expect_close(communicator, 4401)


async def test_a_tenant_socket_is_for_members_only(client, alice, acme, mallory):
    await logged_in_client(client, mallory)
    communicator, closed = await open_socket(f"/ws/tenants/{acme.pk}/", session_headers(client))
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_a_removed_member_is_disconnected_from_the_tenant_socket(client, alice, acme, bob):
    await logged_in_client(client, bob)
    communicator = await open_ready_socket(f"/ws/tenants/{acme.pk}/", session_headers(client))

    @database_sync_to_async
    def remove_bob():
        from project.accounts.access import get_membership

        services.remove_member(acme, get_membership(alice, acme.pk), bob.email)

    await remove_bob()
    removed = await receive_json(communicator)
    assert removed["type"] == "tenant_member.removed"
    assert removed["data"]["member"]["email"] == "bob@example.com"
    await expect_close(communicator, 4403)


async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(client, alice):
    await logged_in_client(client, alice)
    communicator = await open_ready_socket("/ws/user/", session_headers(client))
    await communicator.send_to(text_data="{not json")
    assert (await receive_json(communicator))["data"]["code"] == "invalid_json"
    await communicator.send_json_to({"type": "ping"})
    assert await receive_json(communicator) == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.parametrize("after", ["-1", "abc", "1e5", str(2**63)])
async def test_it_refuses_a_malformed_cursor(client, alice, after):
    await logged_in_client(client, alice)
    communicator, first = await open_socket(f"/ws/user/?after={after}", session_headers(client))
    assert json.loads(first["text"])["data"]["code"] == "invalid_cursor"
    await expect_close(communicator, 4400)


async def test_a_published_event_reaches_the_groups_sockets_once(client, alice):
    await logged_in_client(client, alice)
    communicator = await open_ready_socket("/ws/user/", session_headers(client))
    event = await database_sync_to_async(publish)(f"user.{alice.pk}", "custom.hello", {"n": 1})
    frame = await receive_json(communicator)
    assert frame == {"type": "custom.hello", "group": f"user.{alice.pk}", "cursor": event.pk, "data": {"n": 1}}
    # The dispatcher also reads the log; the socket must not get the event a second time.
    assert await communicator.receive_nothing(timeout=0.8)
    await communicator.disconnect()


async def test_a_right_that_ends_without_an_event_is_caught_by_the_periodic_check(alice, settings):
    """A token that simply expires, or a row changed in bulk, sends no event: each socket
    checks itself every REALTIME_ACCESS_RECHECK_SECONDS too."""
    settings.REALTIME_ACCESS_RECHECK_SECONDS = 0.2
    token, _ = await database_sync_to_async(services.issue_api_token)(alice, "bot")
    communicator = await open_ready_socket(f"/ws/user/?ticket={await new_ticket(alice, token)}", headers=[ORIGIN])
    assert await communicator.receive_nothing(timeout=0.5)  # still valid: it stays open

    await database_sync_to_async(type(token).objects.filter(pk=token.pk).update)(expires_at=timezone.now())

    await expect_close(communicator, 4401)


@pytest.mark.parametrize(
    "path",
    ["/ws/user/?after=%C2%B2", "/ws/workflow/%00/", "/ws/tenants/%00/", "/ws/queue/?tenant=%00", "/ws/nope/"],
)
async def test_hostile_paths_get_a_close_code_and_a_warning_not_an_error(client, alice, path, caplog):
    await logged_in_client(client, alice)
    communicator, first = await open_socket(path, session_headers(client))
    if first["type"] == "websocket.send":  # an error frame first, then the close
        assert json.loads(first["text"])["type"] == "error"
        first = await communicator.receive_output(timeout=3)
        await communicator.disconnect()
    assert first["type"] == "websocket.close"
    assert first["code"] in (4400, 4404)
    assert not [record for record in caplog.records if record.levelname in ("ERROR", "CRITICAL")]


async def test_a_frame_nested_100000_deep_is_an_error_frame(client, alice):
    await logged_in_client(client, alice)
    communicator = await open_ready_socket("/ws/user/", session_headers(client))
    await communicator.send_to(text_data="[" * 100_000)
    assert (await receive_json(communicator))["data"]["code"] == "invalid_json"
    await communicator.send_json_to({"type": "ping"})
    assert await receive_json(communicator) == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.parametrize(
    "origin, allowed",
    [
        (b"http://testserver", True),
        (b"https://testserver", False),  # another scheme
        (b"http://testserver:9999", False),  # another port
        (b"http://evil.example", False),
        (b"null", False),
    ],
)
async def test_the_origin_must_be_the_sites_own_scheme_host_and_port(client, alice, origin, allowed):
    await logged_in_client(client, alice)
    headers = [(b"origin", origin), session_headers(client)[1], (b"host", b"testserver")]
    communicator = WebsocketCommunicator(application, "/ws/user/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected is allowed
    await communicator.disconnect()


async def test_a_trusted_origin_from_csrf_trusted_origins_is_accepted(client, alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.harbor.example"]
    await logged_in_client(client, alice)
    headers = [(b"origin", b"https://app.harbor.example"), session_headers(client)[1], (b"host", b"internal:8000")]
    communicator = WebsocketCommunicator(application, "/ws/user/", headers=headers)
    assert (await communicator.connect(timeout=5))[0]
    await communicator.disconnect()

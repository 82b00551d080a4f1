"""Open sockets against the real ASGI application (origin check, session/ticket auth, routing)."""

import json

from channels.testing import WebsocketCommunicator

from project.asgi import application

ORIGIN = (b"origin", b"http://testserver")
#: Servers always pass the Host header on; the test communicator does not add one. The origin
#: check compares the Origin with it.
HOST = (b"host", b"testserver")


def session_headers(client) -> list[tuple[bytes, bytes]]:
    """Headers of a browser whose Django test `client` is logged in."""
    return [ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


async def connect(path: str, headers=(ORIGIN,)) -> WebsocketCommunicator:
    """A connected communicator with nothing read yet (replayed frames come before `ready`)."""
    headers = list(headers)
    if not any(name == b"host" for name, _ in headers):
        headers.append(HOST)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def open_socket(path: str, headers=(ORIGIN,)):
    """Connect and return (communicator, first frame or close message). A socket closed at
    once is also disconnected: a communicator left open holds a database connection past
    the test."""
    communicator = await connect(path, headers)
    first = await communicator.receive_output(timeout=5)
    if first["type"] == "websocket.close":
        await communicator.disconnect()
    return communicator, first


async def expect_close(communicator, code: int, timeout=3):
    """Assert the server closes the socket with `code`, then let it go."""
    assert await communicator.receive_output(timeout=timeout) == {"type": "websocket.close", "code": code}
    await communicator.disconnect()


async def open_ready_socket(path: str, headers=(ORIGIN,)):
    communicator, first = await open_socket(path, headers)
    if first["type"] == "websocket.close":
        raise AssertionError(f"socket closed with {first.get('code')}")
    assert first["type"] == "websocket.send"
    return communicator


async def receive_json(communicator, timeout=3):
    return json.loads(await communicator.receive_from(timeout=timeout))

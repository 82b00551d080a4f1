"""Baseline servers: the same work as Harbor without Harbor, run in the same benchmark run.

- `python -m bench.baselines broadcast <port>`: a plain asyncio `websockets` server. A socket
  gets a `ready` frame on connect; `GET /post?content=…` broadcasts a `message.created` frame
  shaped like Harbor's to every socket and answers 201. What is left is the transport: HTTP in,
  one frame out per socket.
- `daphne bench.baselines:hello` (and `gunicorn bench.baselines:hello_wsgi`): a minimal app
  under the same server, answering every request with the bytes of the file named by
  BENCH_HELLO_BODY (a real Harbor response).
"""

import asyncio
import json
import os
import sys
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit


async def broadcast_server(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    sockets = set()
    cursor = 0

    def process_request(connection, request):
        nonlocal cursor
        parts = urlsplit(request.path)
        if parts.path == "/health":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if parts.path == "/post":
            cursor += 1
            content = parse_qs(parts.query).get("content", [""])[0]
            frame = {
                "type": "message.created",
                "group": "workflow.baseline",
                "cursor": cursor,
                "data": {"message": {"id": cursor, "content": content}},
            }
            broadcast(sockets, json.dumps(frame))
            return connection.respond(HTTPStatus.CREATED, "ok\n")
        return None  # a WebSocket handshake

    async def handler(socket):
        sockets.add(socket)
        try:
            await socket.send(json.dumps({"type": "ready", "data": {"groups": ["workflow.baseline"], "cursor": cursor}}))
            await socket.wait_closed()
        finally:
            sockets.discard(socket)

    async with serve(
        handler, "127.0.0.1", port, process_request=process_request, compression=None, ping_interval=None,
        max_queue=None, backlog=2048,
    ) as server:
        await server.serve_forever()


_hello_body: bytes | None = None


async def hello(scope, receive, send):
    """A minimal ASGI application: the same bytes for every HTTP request."""
    global _hello_body
    if scope["type"] == "lifespan":
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        return
    if scope["type"] != "http":
        return
    if _hello_body is None:
        path = os.environ.get("BENCH_HELLO_BODY")
        _hello_body = open(path, "rb").read() if path else b'{"hello": "world"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_hello_body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": _hello_body})


def hello_wsgi(environ, start_response):
    """The same minimal application for a WSGI server (gunicorn)."""
    global _hello_body
    if _hello_body is None:
        path = os.environ.get("BENCH_HELLO_BODY")
        _hello_body = open(path, "rb").read() if path else b'{"hello": "world"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_hello_body)))])
    return [_hello_body]


if __name__ == "__main__":
    if sys.argv[1:2] == ["broadcast"]:
        asyncio.run(broadcast_server(int(sys.argv[2])))
    else:
        sys.exit("usage: python -m bench.baselines broadcast <port>")

"""A scripted HTTP server on 127.0.0.1 for tests of outgoing calls (no mocks of the client).

    fake_server.push(503).push(200, body=b"ok")   # the next two answers, in order
    fake_server.default = Reply(200)              # once the queue is empty
    assert fake_server.count == 2
"""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering, to provoke read timeouts


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is what some tests provoke


class FakeServer:
    def __init__(self):
        self.replies: list[Reply] = []
        self.default = Reply(200, body=b"ok")
        self.received: list[tuple[str, str, bytes]] = []  # (method, path, body)
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def push(self, status=200, *, headers=None, body=b"", delay=0.0) -> "FakeServer":
        with self._lock:
            self.replies.append(Reply(status, headers or {}, body, delay))
        return self

    def _next(self, method, path, body) -> Reply:
        with self._lock:
            self.received.append((method, path, body))
            return self.replies.pop(0) if self.replies else self.default

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                reply = server._next(self.command, self.path, self.rfile.read(length) if length else b"")
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _answer

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def fake_server():
    server = FakeServer().start()
    yield server
    server.stop()

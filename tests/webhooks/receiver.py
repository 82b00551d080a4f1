"""A real webhook receiver on 127.0.0.1 (a thread server) that verifies what it receives with
the Standard Webhooks reference library, never with Harbor's own signing code.

    receiver.push(429, headers={"Retry-After": "1"})   # the next answers, in order
    receiver.received                                  # [(headers, payload)] of the verified ones
    receiver.stop(); receiver.start()                  # down, then back on the same port
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Answer:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up


class Receiver:
    def __init__(self, secret: str | None = None, port: int = 0):
        self.secret = secret
        self.answers: list[Answer] = []
        self.default = Answer()
        self.received: list[tuple[dict, dict]] = []  # verified (headers, payload), in arrival order
        self.attempts: list[float] = []  # monotonic time of every request, answered or not
        self.rejected: list[str] = []  # why a request failed verification
        self.lock = threading.Lock()
        self.port = port
        self._httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def push(self, status=200, *, headers=None, body=b"ok", delay=0.0) -> "Receiver":
        with self.lock:
            self.answers.append(Answer(status, headers or {}, body, delay))
        return self

    def ids(self) -> list[str]:
        with self.lock:
            return [headers["webhook-id"] for headers, _ in self.received]

    def types(self) -> list[str]:
        with self.lock:
            return [payload["type"] for _, payload in self.received]

    def _handle(self, handler):
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self.lock:
            self.attempts.append(time.monotonic())
            answer = self.answers.pop(0) if self.answers else self.default
        if answer.delay:
            time.sleep(answer.delay)
        if 200 <= answer.status < 300:
            try:
                payload = Webhook(self.secret).verify(body, headers) if self.secret else json.loads(body)
            except WebhookVerificationError as error:
                with self.lock:
                    self.rejected.append(str(error))
                answer = Answer(401, body=b"bad signature")
            else:
                with self.lock:
                    self.received.append((headers, payload))
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        handler.wfile.write(answer.body)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver._handle(self)

            def log_message(self, *args):
                pass

        self._httpd = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            with self.lock:
                if len(self.received) >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"received {len(self.received)} of {count} deliveries; rejected: {self.rejected}")

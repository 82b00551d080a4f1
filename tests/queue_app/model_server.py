"""A language-model server on 127.0.0.1 speaking OpenAI's and Anthropic's wire formats, JSON and
SSE streaming, which the official SDKs reach through their own `base_url` (no mock of an SDK).

    model_server.push(openai_stream(["Hel", "lo"], chunk_delay=0.2))
    settings.OPENAI_BASE_URL = model_server.url + "/v1"
    assert model_server.requests[-1].json["max_completion_tokens"] == 100
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class ModelReply:
    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # before the status line: a model thinking
    events: list[tuple[str | None, dict | str]] | None = None  # SSE (event name, data)
    chunk_delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    json: dict | None


def openai_answer(text: str, refusal: str | None = None) -> ModelReply:
    return ModelReply(body={"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text, "refusal": refusal}, "finish_reason": "stop"}]})


def openai_stream(parts: list[str], *, chunk_delay: float = 0.0, delay: float = 0.0) -> ModelReply:
    def chunk(delta, finish=None):
        return (None, {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in parts]
    return ModelReply(events=[*events, chunk({}, "stop"), (None, "[DONE]")], chunk_delay=chunk_delay, delay=delay)


def openai_error(status: int, code: str, message: str, headers: dict | None = None) -> ModelReply:
    return ModelReply(status, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                         "code": code}}, headers or {})


def anthropic_answer(text: str, stop_reason: str = "end_turn") -> ModelReply:
    content = [{"type": "text", "text": text}] if text else []
    return ModelReply(body={"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": content,
                            "stop_reason": stop_reason, "stop_sequence": None,
                            "usage": {"input_tokens": 1, "output_tokens": 1}})


def anthropic_stream(parts: list[str], *, chunk_delay: float = 0.0, stop_reason: str = "end_turn") -> ModelReply:
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 0}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": p}}) for p in parts],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                           "usage": {"output_tokens": len(parts)}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return ModelReply(events=events, chunk_delay=chunk_delay)


def anthropic_error(status: int, kind: str, message: str, headers: dict | None = None) -> ModelReply:
    return ModelReply(status, {"type": "error", "error": {"type": kind, "message": message}}, headers or {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up


class ModelServer:
    def __init__(self):
        self.replies: list[ModelReply] = []
        #: Replies by the request's bearer key / x-api-key, before the queue (tenants' own keys).
        self.by_key: dict[str, ModelReply] = {}
        self.default = openai_answer("default answer")
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def push(self, *replies: ModelReply) -> "ModelServer":
        with self._lock:
            self.replies.extend(replies)
        return self

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _next(self, received: Received) -> ModelReply:
        with self._lock:
            self.requests.append(received)
            key = received.headers.get("x-api-key") or received.headers.get("authorization", "").removeprefix("Bearer ")
            if key in self.by_key:
                return self.by_key[key]
            return self.replies.pop(0) if self.replies else self.default

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                reply = server._next(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.events is None:
                    data = json.dumps(reply.body or {}).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes
                for name, data in reply.events:
                    text = data if isinstance(data, str) else json.dumps(data)
                    frame = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
                    self.wfile.write(frame.encode())
                    self.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)

            def log_message(self, *args):
                pass

        return Handler

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def model_server():
    server = ModelServer().start()
    yield server
    server.stop()

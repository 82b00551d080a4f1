"""The queue bot: claim a message, ask a provider, post the reply and complete — in a loop.

`manage.py run_bot` only parses arguments; `BotEngine` is what tests drive. The engine talks to
Harbor through a backend:

- `LocalBackend` (the default): queue_app.services in this process, on the ORM;
- `HttpBackend`: a remote Harbor over the REST API (`--api-url` and a bot's token), as the
  original bot, a separate process calling the API, did.

No claim is held across anything but the provider call: the claim, the completion (with the
next claim in the same round trip) and a failure are each one short transaction on the server.
"""

import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from project.resilience.http import HttpClient, HttpError

from . import services
from .providers import Prompt, get_provider, persona_for
from .serializers import claimed_data

logger = logging.getLogger(__name__)


def default_worker_prefix() -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:60] or "host"
    return f"{host}:{os.getpid()}"


class LocalBackend:
    """queue_app.services in this process. Claimed messages are the API's shape
    (serializers.claimed_data), so both backends look the same to the engine."""

    remote = False

    def claim_next(self, worker, entities, lease):
        message = services.claim_next(worker, entities, lease)
        return self._claimed(message)

    def complete(self, claimed, worker, reply, *, next_, entities, lease):
        _, _, following = services.complete(
            claimed["id"], worker, claimed["claim_token"], reply,
            next_entities=entities, claim_next_message=next_, lease_seconds=lease,
        )
        return self._claimed(following)

    def fail(self, claimed, worker, error):
        services.fail(claimed["id"], worker, error, claimed["claim_token"])

    def release(self, claimed, worker):
        services.release(claimed["id"], worker, claimed["claim_token"])

    def requeue_expired(self) -> int:
        return services.requeue_expired()

    def done_with_thread(self):
        pass

    @staticmethod
    def _claimed(message):
        return claimed_data(message) if message is not None else None


class HttpBackend:
    """A remote Harbor's REST API with a bot's bearer token. One HttpClient per thread (a
    requests.Session is not thread-safe). Claims are not retried by the client (a retried
    claim could take a second message); completion is, as it is idempotent on the claim token."""

    remote = True

    def __init__(self, api_url: str, token: str):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self._local = threading.local()

    @property
    def client(self) -> HttpClient:
        if not hasattr(self._local, "client"):
            self._local.client = HttpClient(
                "harbor-api", self.api_url, headers={"Authorization": f"Bearer {self.token}"}
            )
        return self._local.client

    def _post(self, path, body, idempotent=False):
        response = self.client.request("POST", path, json=body, idempotent=idempotent)
        return response.json() if response.status_code != 204 else None

    def claim_next(self, worker, entities, lease):
        return self._post("/api/queue/claims", {"worker_id": worker, "entities": entities or [], "lease_seconds": lease})

    def complete(self, claimed, worker, reply, *, next_, entities, lease):
        body = {"worker_id": worker, "claim_token": claimed["claim_token"], "reply": reply, "next": next_,
                "entities": entities or [], "lease_seconds": lease}
        return self._post(f"/api/queue/messages/{claimed['id']}/complete", body, idempotent=True)["next"]

    def fail(self, claimed, worker, error):
        self._post(f"/api/queue/messages/{claimed['id']}/fail",
                   {"worker_id": worker, "claim_token": claimed["claim_token"], "error": error})

    def release(self, claimed, worker):
        self._post(f"/api/queue/messages/{claimed['id']}/release",
                   {"worker_id": worker, "claim_token": claimed["claim_token"]})

    def requeue_expired(self) -> int:
        return 0  # the server's job there (its own bots or `manage.py requeue_expired`)

    def done_with_thread(self):
        if hasattr(self._local, "client"):
            self._local.client.close()


@dataclass
class Stats:
    claimed: int = 0
    answered: int = 0
    failed: int = 0
    released: int = 0
    requeued: int = 0

    def line(self) -> str:
        return (f"answered {self.answered}, failed {self.failed}, released {self.released}, "
                f"requeued {self.requeued} expired")


class BotEngine:
    """`concurrency` slots, each a thread with at most one claim in flight.

    once=True: answer what can be claimed now, then return. Otherwise loop until stop() (the
    command calls it on SIGTERM): slots stop claiming, an answer already being written is
    finished, and a claim not yet started is released so another worker takes it at once."""

    def __init__(self, backend=None, *, provider: str | None = None, entities=None, concurrency: int = 1,
                 worker_prefix: str | None = None, lease_seconds: float | None = None, idle_seconds: float = 1.0,
                 requeue_every: float = 5.0, once: bool = False, heartbeat=None, provider_options=None):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.backend = backend or LocalBackend()
        self.provider_name = provider or settings.QUEUE_PROVIDER
        get_provider(self.provider_name).close()  # an unknown name fails here, not in a thread
        self.provider_options = provider_options or {}
        self.entities = list(entities or [])
        self.concurrency = concurrency
        self.worker_prefix = worker_prefix or default_worker_prefix()
        self.lease_seconds = lease_seconds
        self.idle_seconds = idle_seconds
        self.requeue_every = requeue_every
        self.once = once
        self.heartbeat = heartbeat
        self.stats = Stats()
        self._stats_lock = threading.Lock()
        self._stopping = threading.Event()
        self._busy = 0

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _count(self, **increments):
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def run(self) -> Stats:
        started = time.monotonic()
        self._requeue()
        slots = [threading.Thread(target=self._slot, args=(n,), name=f"bot-slot-{n}", daemon=True)
                 for n in range(self.concurrency)]
        for slot in slots:
            slot.start()
        last_requeue = last_log = time.monotonic()
        while any(slot.is_alive() for slot in slots):
            if self.heartbeat is not None:
                self.heartbeat.beat(f"{self._busy} in flight; {self.stats.line()}")
            now = time.monotonic()
            if not self.once and not self.stopping and now - last_requeue >= self.requeue_every:
                self._requeue()
                last_requeue = now
            if now - last_log >= 60:
                logger.info("queue bot: %s", self.stats.line(), extra={"stats": vars(self.stats)})
                last_log = now
            for slot in slots:
                slot.join(0.2)  # short slices: a stop is noticed at once
        if not self.once:
            self.backend.done_with_thread()
        logger.info("queue bot stopped after %.1fs: %s", time.monotonic() - started, self.stats.line(),
                    extra={"stats": vars(self.stats)})
        return self.stats

    def _requeue(self):
        try:
            moved = self.backend.requeue_expired()
        except Exception:
            logger.exception("queue bot: requeue_expired failed")
            return
        finally:
            close_old_connections()
        if moved:
            self._count(requeued=moved)
            logger.info("queue bot: requeued %d expired claims", moved)

    def _slot(self, n: int) -> None:
        worker = f"{self.worker_prefix}:{n}"
        provider = get_provider(self.provider_name, **self.provider_options)
        current = None
        try:
            while not self.stopping:
                if current is None:
                    try:
                        current = self.backend.claim_next(worker, self.entities, self.lease_seconds)
                    except HttpError as exc:
                        if exc.status in (401, 403):
                            # A wrong or revoked token, or a user who is not a bot: waiting
                            # cannot fix it, so the whole bot stops and says why.
                            logger.error("queue bot: Harbor refused the claim (%s); stopping", exc)
                            self.stop()
                            return
                        logger.warning("queue bot: claim failed: %s", exc, extra={"worker": worker})
                        current = None
                    except Exception:
                        logger.exception("queue bot: claim failed", extra={"worker": worker})
                        current = None
                    if current is None:
                        if self.once:
                            return
                        self._stopping.wait(self.idle_seconds)
                        continue
                    self._count(claimed=1)
                current = self._answer(provider, worker, current)
            if current is not None:  # claimed but not started: hand it back
                self._release(worker, current)
        finally:
            provider.close()
            self.backend.done_with_thread()
            # Every slot thread touches the database (the ORM backend, and the circuit
            # breakers behind any HTTP call): give its connection back before the thread ends.
            connection.close()

    def _answer(self, provider, worker: str, claimed: dict):
        """Answer one claimed message; returns the next claimed one (complete with next=true)."""
        with self._stats_lock:
            self._busy += 1
        try:
            prompt = Prompt(persona_for(claimed.get("entity", "")), claimed.get("thread", []), claimed)
            try:
                reply = provider.reply(prompt)[: settings.QUEUE_MESSAGE_MAX_LENGTH] or "…"
            except Exception as exc:
                # The lease/retry logic decides what happens next (backoff, or a dead letter).
                logger.warning("queue bot: provider %s failed on %s: %s", self.provider_name, claimed["id"], exc,
                               extra={"worker": worker, "message_id": claimed["id"]})
                try:
                    self.backend.fail(claimed, worker, f"{type(exc).__name__}: {exc}")
                    self._count(failed=1)
                except Exception:
                    logger.exception("queue bot: could not mark %s failed", claimed["id"])
                return None
            try:
                following = self.backend.complete(
                    claimed, worker, reply, next_=not self.stopping,
                    entities=self.entities, lease=self.lease_seconds,
                )
            except HttpError as exc:
                logger.warning("queue bot: completing %s failed: %s", claimed["id"], exc)
                return None
            except Exception:
                logger.exception("queue bot: completing %s failed", claimed["id"])
                return None
            self._count(answered=1)
            if following is not None:
                self._count(claimed=1)
            return following
        finally:
            with self._stats_lock:
                self._busy -= 1
            close_old_connections()

    def _release(self, worker: str, claimed: dict) -> None:
        try:
            self.backend.release(claimed, worker)
            self._count(released=1)
        except Exception:
            logger.exception("queue bot: could not release %s (its lease will return it)", claimed["id"])

"""The queue bot: claim messages, ask a provider, and complete them with the replies — in batches.

`manage.py run_bot` only parses arguments; `BotEngine` is what tests drive. The engine talks to
Harbor through a backend:

- `LocalBackend` (the default): queue_app.services in this process, on the ORM;
- `HttpBackend`: a remote Harbor over the REST API (`--api-url` and a bot's token), as the
  original bot, a separate process calling the API, did.

Batches are the queue's primitive (docs/queue.md): the engine claims as many messages as it has
free slots (at most MAX_BATCH) in one call, and hands in the answers that finished within a
short linger (LINGER_SECONDS) as one completion, which also claims the next messages for the
slots it frees. A bot with `--concurrency 32` and a fast provider makes a request per 32
answers, not 64 requests. No claim is held across anything but the provider call: each call is
one short transaction on the server.
"""

import logging
import os
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from project.resilience.http import HttpClient, HttpError

from . import services, tenant_providers
from .models import MAX_BATCH
from .providers import Prompt, ProviderError, get_provider, persona_for
from .serializers import claimed_data

logger = logging.getLogger(__name__)

#: How long the engine waits, after an answer finished, for others to join its completion: long
#: enough to batch answers finishing together, short against a model's seconds.
LINGER_SECONDS = 0.05


def default_worker_prefix() -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:60] or "host"
    return f"{host}:{os.getpid()}"


class LocalBackend:
    """queue_app.services in this process. Claimed messages are the API's shape
    (serializers.claimed_data), so both backends look the same to the engine. Every method
    takes and returns lists: one call per batch."""

    remote = False

    def claim_many(self, worker, limit, entities, lease):
        return [claimed_data(message) for message in services.claim_many(worker, limit, entities, lease)]

    def complete_many(self, worker, answers, *, next_, entities, lease):
        """`answers`: [(claimed, reply)]. Returns (the claims it could not complete, with why;
        the next claims)."""
        outcomes, following = services.complete_many(
            worker, [services.Completion(claimed["id"], claimed["claim_token"], reply) for claimed, reply in answers],
            claim_next=next_, next_entities=entities, lease_seconds=lease,
        )
        refused = [(outcome.message_id, str(outcome.error)) for outcome in outcomes if outcome.error]
        return refused, [claimed_data(message) for message in following]

    def fail_many(self, worker, failures):
        """`failures`: [(claimed, Failed)]."""
        services.fail_many(worker, [services.Failure(c["id"], c["claim_token"], f.error, f.permanent, f.retry_in, f.deferred)
                                    for c, f in failures])

    def stream_partials(self, worker, partials):
        """`partials`: [(claimed, text so far)]."""
        services.stream_partials(worker, [services.Partial(c["id"], c["claim_token"], text) for c, text in partials])

    def release_many(self, worker, claims):
        services.release_many(worker, [services.HeldClaim(c["id"], c["claim_token"]) for c in claims])

    def requeue_expired(self) -> int:
        return services.requeue_expired()

    def done_with_thread(self):
        pass


class HttpBackend:
    """A remote Harbor's REST API with a bot's bearer token. One HttpClient per thread (a
    requests.Session is not thread-safe). Claims are not retried by the client (a retried
    claim could take a second batch); completions, failures and releases are: a repeated
    completion returns the same replies and claims nothing more, and a repeated failure or
    release is refused per claim."""

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

    def claim_many(self, worker, limit, entities, lease):
        body = {"worker_id": worker, "limit": limit, "entities": entities or [], "lease_seconds": lease}
        return self._post("/api/queue/claims", body)["results"]

    def complete_many(self, worker, answers, *, next_, entities, lease):
        body = {"worker_id": worker, "next": next_, "entities": entities or [], "lease_seconds": lease,
                "claims": [{"id": c["id"], "claim_token": c["claim_token"], "reply": reply} for c, reply in answers]}
        answer = self._post("/api/queue/completions", body, idempotent=True)
        refused = [(item["id"], item["error"]["message"]) for item in answer["completed"]["results"] if item["error"]]
        return refused, answer["next"]["results"]

    def fail_many(self, worker, failures):
        self._post("/api/queue/failures", {"worker_id": worker, "claims": [
            {"id": c["id"], "claim_token": c["claim_token"], "error": f.error, "permanent": f.permanent,
             "retry_after_seconds": f.retry_in, "deferred": f.deferred} for c, f in failures]}, idempotent=True)

    def stream_partials(self, worker, partials):
        # Not retried: the next partial (or the completion) supersedes a lost one.
        self._post("/api/queue/partials", {"worker_id": worker, "claims": [
            {"id": c["id"], "claim_token": c["claim_token"], "partial_text": text} for c, text in partials]})

    def release_many(self, worker, claims):
        self._post("/api/queue/releases", {"worker_id": worker, "claims": [
            {"id": c["id"], "claim_token": c["claim_token"]} for c in claims]}, idempotent=True)

    def requeue_expired(self) -> int:
        return 0  # the server's job there (its own bots or `manage.py requeue_expired`)

    def done_with_thread(self):
        if hasattr(self._local, "client"):
            self._local.client.close()


@dataclass(frozen=True)
class Failed:
    """Why a slot has no answer, and what the queue should do about it (services.Failure)."""

    error: str
    permanent: bool = False
    retry_in: float | None = None
    deferred: bool = False

    @classmethod
    def of(cls, exc: Exception) -> "Failed":
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ProviderError):
            # The breaker kept the call home, or the provider said it did not process it and
            # when to come back (a 429/503/529 with Retry-After): the message waits that long,
            # however long, and spends no attempt. Anything else is the queue's backoff.
            held = not exc.permanent and (exc.deferred or (exc.not_processed and exc.retry_after is not None))
            return cls(str(exc), exc.permanent, exc.retry_after if held else None, held)
        return cls(text, bool(getattr(exc, "permanent", False)))


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
    """`concurrency` slots: threads that each answer one claimed message at a time, fed and
    emptied by the engine's own loop (`run`), which makes every call to Harbor — the claims, the
    completions, the failures and releases — one per batch.

    once=True: answer what can be claimed now, then return. Otherwise loop until stop() (the
    command calls it on SIGTERM): no new claims, the answers being written are finished and
    completed, and claims not yet started are released so another worker takes them at once."""

    def __init__(self, backend=None, *, provider: str | None = None, entities=None, concurrency: int = 1,
                 worker_prefix: str | None = None, lease_seconds: float | None = None, idle_seconds: float = 1.0,
                 requeue_every: float = 5.0, once: bool = False, heartbeat=None, provider_options=None,
                 linger_seconds: float = LINGER_SECONDS):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.backend = backend or LocalBackend()
        self.provider_name = provider or settings.QUEUE_PROVIDER
        get_provider(self.provider_name).close()  # an unknown name fails here, not in a thread
        self.provider_options = provider_options or {}
        self.entities = list(entities or [])
        self.concurrency = concurrency
        self.worker_prefix = worker_prefix or default_worker_prefix()
        #: One worker id for the engine: its claims are handed in together.
        self.worker = self.worker_prefix
        # A claim outlives the longest model call it may wait for (QUEUE_PROVIDER_DEADLINE_MINUTES).
        self.lease_seconds = lease_seconds if lease_seconds is not None else min(
            settings.QUEUE_MAX_LEASE_SECONDS,
            max(settings.QUEUE_LEASE_SECONDS, settings.QUEUE_PROVIDER_DEADLINE_MINUTES * 60 + 30))
        self.idle_seconds = idle_seconds
        self.requeue_every = requeue_every
        self.linger_seconds = linger_seconds
        self.once = once
        self.heartbeat = heartbeat
        self.stats = Stats()
        self._stats_lock = threading.Lock()
        self._stopping = threading.Event()
        self._todo: queue.Queue = queue.Queue()  # claimed messages for the slots (None: a slot ends)
        self._done: queue.Queue = queue.Queue()  # (claimed, reply, error) from the slots
        self._in_flight = 0  # claims handed to the slots and not yet back (the loop's own count)

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
        try:
            self._loop()
        finally:
            for _ in slots:
                self._todo.put(None)
            for slot in slots:
                slot.join()
            self.backend.done_with_thread()
            close_old_connections()
        logger.info("queue bot stopped after %.1fs: %s", time.monotonic() - started, self.stats.line(),
                    extra={"stats": vars(self.stats)})
        return self.stats

    def _loop(self) -> None:
        """Claim for the free slots, collect what the slots finished, hand it in; until stopped
        (or, with once, until nothing is claimable and every claim is done)."""
        last_requeue = last_log = time.monotonic()
        idle_until = 0.0  # after an empty claim: when to try again
        while True:
            now = time.monotonic()
            if self.heartbeat is not None:
                self.heartbeat.beat(f"{self._in_flight} in flight; {self.stats.line()}")
            if not self.once and not self.stopping and now - last_requeue >= self.requeue_every:
                self._requeue()
                last_requeue = now
            if now - last_log >= 60:
                logger.info("queue bot: %s", self.stats.line(), extra={"stats": vars(self.stats)})
                last_log = now
            free = self.concurrency - self._in_flight
            if free and not self.stopping and now >= idle_until:
                claimed = self._claim(min(free, MAX_BATCH))
                if claimed is None:  # Harbor refused the bot: stopping
                    continue
                if not claimed:
                    if self.once and not self._in_flight:
                        return
                    # once: nothing more to claim now (completions may still bring more)
                    idle_until = float("inf") if self.once else time.monotonic() + self.idle_seconds
                self._hand_out(claimed)
            if self.stopping and not self._in_flight:
                return
            if not self._in_flight:
                if self.once and idle_until == float("inf"):
                    return
                self._stopping.wait(max(0.0, min(idle_until - time.monotonic(), 0.2)))
                continue
            finished = self._collect()
            if finished:
                idle_until = self._hand_in(finished, idle_until)

    def _claim(self, limit: int):
        try:
            return self.backend.claim_many(self.worker, limit, self.entities, self.lease_seconds)
        except HttpError as exc:
            if exc.status in (401, 403):
                # A wrong or revoked token, or a user who is not a bot: waiting cannot fix it,
                # so the whole bot stops and says why.
                logger.error("queue bot: Harbor refused the claim (%s); stopping", exc)
                self.stop()
                return None
            logger.warning("queue bot: claim failed: %s", exc, extra={"worker": self.worker})
        except Exception:
            logger.exception("queue bot: claim failed", extra={"worker": self.worker})
        finally:
            close_old_connections()
        return []

    def _hand_out(self, claimed: list[dict], *, unless_stopping=False) -> None:
        """Give claims to the slots: each is free, so each starts at once. With
        `unless_stopping`, claims that came with a completion after a stop are released
        instead, never started."""
        self._count(claimed=len(claimed))
        if unless_stopping and self.stopping:
            self._release(claimed)
            return
        self._in_flight += len(claimed)
        for message in claimed:
            self._todo.put(message)

    def _collect(self) -> list:
        """What the slots finished: wait (in short slices, so a stop is noticed) for the first,
        then up to `linger_seconds` for others, unless every claim in flight is back already."""
        try:
            finished = [self._done.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.linger_seconds
        while len(finished) < min(self._in_flight, MAX_BATCH):
            left = deadline - time.monotonic()
            try:
                finished.append(self._done.get(timeout=left) if left > 0 else self._done.get_nowait())
            except queue.Empty:
                break
        self._in_flight -= len(finished)
        return finished

    def _hand_in(self, finished: list, idle_until: float) -> float:
        """One failure call for the failed, one completion for the answered that also claims for
        the slots it frees (unless stopping). Returns when to claim again."""
        failed = [(claimed, error) for claimed, _, error in finished if error]
        answers = [(claimed, reply) for claimed, reply, error in finished if not error]
        if failed:
            try:
                self.backend.fail_many(self.worker, failed)
                self._count(failed=len(failed))
            except Exception:
                logger.exception("queue bot: could not mark %d claims failed (their leases will return them)", len(failed))
        if answers:
            free = 0 if self.stopping else min(self.concurrency - self._in_flight, MAX_BATCH)
            try:
                refused, following = self.backend.complete_many(
                    self.worker, answers, next_=free, entities=self.entities, lease=self.lease_seconds,
                )
            except Exception as exc:
                logger.warning("queue bot: completing %d answers failed: %s", len(answers), exc)
                return idle_until
            finally:
                close_old_connections()
            for message_id, why in refused:
                logger.warning("queue bot: Harbor refused the completion of %s: %s", message_id, why)
            self._count(answered=len(answers) - len(refused))
            self._hand_out(following, unless_stopping=True)
            if free and len(following) < free:  # the queue ran dry
                return float("inf") if self.once else time.monotonic() + self.idle_seconds
        return idle_until

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
        provider = get_provider(self.provider_name, **self.provider_options)
        tenants: dict = {}  # (name, config) → this slot's provider for a tenant's own settings
        try:
            while (claimed := self._todo.get()) is not None:
                self._done.put(self._answer(self._provider_for(claimed, provider, tenants), claimed))
        finally:
            provider.close()
            for own in tenants.values():
                own.close()
            # The circuit breakers behind any provider call touch the database: give this
            # thread's connection back before it ends.
            connection.close()

    def _answer(self, provider, claimed: dict):
        """(claimed, reply, None), or (claimed, None, error) when the provider failed."""
        try:
            prompt = Prompt(persona_for(claimed.get("entity", "")), claimed.get("thread", []), claimed)
            try:
                reply = provider.reply(prompt, on_text=self._streamer(claimed))[: settings.QUEUE_MESSAGE_MAX_LENGTH] or "…"
            except Exception as exc:
                # The queue decides what happens next (backoff, a wait, or a dead letter).
                logger.warning("queue bot: provider %s failed on %s: %s", self.provider_name, claimed["id"], exc,
                               extra={"worker": self.worker, "message_id": claimed["id"]})
                return claimed, None, Failed.of(exc)
            return claimed, reply, None
        finally:
            close_old_connections()

    def _provider_for(self, claimed: dict, default, tenants: dict):
        """A tenant's stream is answered with the tenant's own provider when its owner set one
        (in-process bots only: a remote bot brings its own settings); otherwise the bot's."""
        if self.backend.remote or not claimed.get("tenant_id"):
            return default
        try:
            own = tenant_providers.provider_for(claimed["tenant_id"])
        except Exception:
            logger.exception("queue bot: could not read the provider of tenant %s", claimed["tenant_id"])
            return default
        if own is None:
            return default
        if own not in tenants:
            if len(tenants) >= 32:  # a bounded cache of SDK clients per slot
                tenants.pop(next(iter(tenants))).close()
            tenants[own] = get_provider(own[0], config=own[1])
        return tenants[own]

    def _streamer(self, claimed: dict):
        """The `on_text` of one answer: hands the text so far to Harbor at most every
        QUEUE_STREAM_INTERVAL_SECONDS (the last partial before the completion may be skipped:
        the completion carries the whole reply)."""
        last = [0.0]

        def on_text(text: str) -> None:
            now = time.monotonic()
            if now - last[0] < settings.QUEUE_STREAM_INTERVAL_SECONDS or not text.strip():
                return
            last[0] = now
            try:
                self.backend.stream_partials(self.worker, [(claimed, text[: settings.QUEUE_MESSAGE_MAX_LENGTH])])
            except Exception as exc:  # a lost partial costs a frame, never the answer
                logger.info("queue bot: partial text of %s not handed in: %s", claimed["id"], exc)

        return on_text

    def _release(self, claims: list[dict]) -> None:
        if not claims:
            return
        try:
            self.backend.release_many(self.worker, claims)
            self._count(released=len(claims))
        except Exception:
            logger.exception("queue bot: could not release %d claims (their leases will return them)", len(claims))

"""The one wrapper for outgoing HTTP calls: timeouts, retry, the circuit breaker, counters.

    client = HttpClient("openai", settings.OPENAI_BASE_URL, headers={"Authorization": ...})
    response = client.request("POST", "/v1/chat/completions", json=payload)

Tests point `base_url` at a local server (tests/resilience/fake_server.py) instead of patching.
"""

import random
import time

import requests
from django.conf import settings

from . import breaker
from .breaker import CircuitOpen, DependencyError
from .retry import call_with_retry

__all__ = ["CircuitOpen", "HttpClient", "HttpError"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
BODY_EXCERPT_MAX = 500
#: How much of an error's body HttpError keeps whole (`body`), for callers that parse it (an
#: OAuth error's JSON can be longer than the excerpt).
BODY_MAX = 65_536


class HttpError(DependencyError):
    """The final failure of an outgoing call. `status` is None when no response arrived
    (connection error, timeout). `permanent` is True for a 4xx other than 429: sending the
    same request again cannot succeed."""

    def __init__(self, dependency: str, status: int | None, body_excerpt: str = "", *, permanent: bool,
                 retry_after: str | None = None, reason: str = "", body: str | None = None):
        self.dependency = dependency
        self.status = status
        self.body_excerpt = body_excerpt
        #: The whole body (up to BODY_MAX), for parsing; never put in messages or logs.
        self.body = body_excerpt if body is None else body
        self.permanent = permanent
        self.retry_after = retry_after
        # Neither the URL nor the exception text: both may carry tokens (some APIs put
        # them in the path), and this message ends up in logs and on the health page.
        what = f"HTTP {status}" if status is not None else (reason or "no response")
        super().__init__(f"{dependency}: {what}")

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class HttpClient:
    """Calls to one named dependency at one base URL, through one `requests.Session`
    (connection reuse). A Session is not thread-safe: one client per thread."""

    def __init__(self, name: str, base_url: str, *, headers: dict | None = None,
                 sleep=time.sleep, rng: random.Random | None = None):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        if headers:
            self.session.headers.update(headers)
        self.sleep = sleep
        self.rng = rng or random.Random()

    def close(self):
        self.session.close()

    def request(self, method: str, path: str, *, json=None, data=None, headers=None, params=None,
                idempotent: bool | None = None) -> requests.Response:
        """Send one request; returns the response for 1xx-3xx, raises HttpError or CircuitOpen.

        Retries connect errors, timeouts, 429 (honouring Retry-After) and 5xx, but only when
        the request is idempotent: GET/HEAD/PUT/DELETE/OPTIONS, or anything with
        `idempotent=True` (a POST carrying an idempotency key). A retried POST could otherwise
        run twice on the server.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        url = f"{self.base_url}/{path.lstrip('/')}"
        connect_timeout, read_timeout = settings.HTTP_TIMEOUT_SECONDS
        deadline = settings.RETRY_DEADLINE_SECONDS
        ends = time.monotonic() + deadline

        def attempt() -> requests.Response:
            trial = breaker.before_call(self.name)
            # A read must not run far past the total deadline either.
            timeout = (connect_timeout, max(0.1, min(read_timeout, ends - time.monotonic())))
            started = time.monotonic()
            try:
                response = self.session.request(method, url, json=json, data=data, headers=headers,
                                                params=params, timeout=timeout)
                body = response.content  # read inside the timing and the try: a body can time out too
            except requests.RequestException as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                reason = type(exc).__name__
                breaker.record_failure(self.name, reason, elapsed_ms, trial=trial)
                raise HttpError(self.name, None, permanent=False, reason=reason) from exc
            except BaseException:
                # Not the dependency's fault (a bug, KeyboardInterrupt), so it does not count
                # against it; but a trial claim is released, or the breaker would stay
                # half-open for a whole period.
                if trial:
                    breaker.record_failure(self.name, "trial interrupted", None, trial=True)
                raise
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            if status < 400:
                breaker.record_success(self.name, elapsed_ms, trial=trial)
                return response
            excerpt = body[:BODY_EXCERPT_MAX].decode("utf-8", "replace")
            if status == 429 or status >= 500:
                breaker.record_failure(self.name, f"HTTP {status}: {excerpt[:200]}", elapsed_ms, trial=trial)
                raise HttpError(self.name, status, excerpt, permanent=False,
                                retry_after=response.headers.get("Retry-After"))
            # Any other 4xx: the dependency is up and answered; our request was wrong.
            breaker.record_success(self.name, elapsed_ms, trial=trial)
            raise HttpError(self.name, status, excerpt, permanent=True,
                            body=body[:BODY_MAX].decode("utf-8", "replace"))

        return call_with_retry(
            attempt,
            is_retryable=lambda error: idempotent and isinstance(error, HttpError) and error.retryable,
            retry_after=lambda error: getattr(error, "retry_after", None),
            deadline=deadline,
            max_attempts=settings.RETRY_MAX_ATTEMPTS,
            base=settings.RETRY_BASE_SECONDS,
            cap=settings.RETRY_CAP_SECONDS,
            sleep=self.sleep,
            rng=self.rng,
        )

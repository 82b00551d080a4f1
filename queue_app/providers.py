"""Language-model providers for the queue bot, behind one small interface and a registry.

    provider = get_provider("openai")
    text = provider.reply(Prompt(persona, thread, message), on_text=show_partial)

`openai` and `anthropic` call the official SDKs; `ollama` is the `openai` SDK against Ollama's
OpenAI-compatible `/v1` endpoint (docs/queue.md says why). The SDKs retry nothing
(`max_retries=0`): Harbor's circuit breaker and retry policy (project/resilience) wrap each SDK
call as a whole, with timeouts that fit model calls (`QUEUE_PROVIDER_*`). Their httpx client is
`guarded_httpx2_client()` (the httpx fork both SDKs are built on), so a tenant's base URL goes through the outbound-address guard at
connect time. Tests point `base_url` at a server on 127.0.0.1 speaking each wire format.

What may be sent again is what the provider said it never processed (429, 503, 529, or a
connection that was never made): a model call that timed out may have run and been billed,
so it goes back to the queue's backoff instead of being resent at once.

A provider instance holds an SDK client (an httpx2 client): make one per thread.
"""

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import httpx2
from django.conf import settings

from project.resilience import breaker
from project.resilience.breaker import CircuitOpen, DependencyError
from project.resilience.outbound import OutboundAddressRefused, guarded_httpx2_client
from project.resilience.retry import call_with_retry, parse_retry_after

PROVIDERS: dict[str, type["Provider"]] = {}
#: Statuses by which a provider says it did not process the request: safe to send again.
NOT_PROCESSED = frozenset({429, 503, 529})
#: 4xx that are not the request's fault: a timeout on the provider's side, a conflict.
TRANSIENT_4XX = frozenset({408, 409, 429})
ERROR_TEXT_MAX = 1000


class ProviderError(DependencyError):
    """The provider did not give an answer. `permanent`: asking again cannot help (a missing
    key, an unknown model, a refusal, a response of the wrong shape) — a dead letter at once.
    `not_processed`: the provider said it never ran the request (safe to resend).
    `retry_after`: seconds the provider asked us to wait. `deferred`: the call never went out
    (an open breaker): the message waits without spending an attempt. `status`: the HTTP
    status, when there was one."""

    def __init__(self, message: str, *, permanent: bool = True, not_processed: bool = False,
                 retry_after: float | None = None, deferred: bool = False, status: int | None = None):
        self.permanent = permanent
        self.not_processed = not_processed
        self.retry_after = retry_after
        self.deferred = deferred
        self.status = status
        super().__init__(message)


@dataclass
class Prompt:
    persona: str
    #: The messages this one replies to, oldest first: {"text", "username", "message_type"}.
    thread: list[dict] = field(default_factory=list)
    #: The message to answer: {"text", "username", "entity", ...} as the API shows it.
    message: dict = field(default_factory=dict)

    def chat(self) -> list[dict]:
        """The conversation as chat turns: bots' messages are the assistant, people the user.
        Consecutive turns of one role are merged (Anthropic requires alternating roles)."""
        turns: list[dict] = []
        for item in [*self.thread, self.message]:
            role = "assistant" if item.get("message_type") == "ai" else "user"
            content = item["text"] if role == "assistant" else f"{item.get('username') or 'someone'}: {item['text']}"
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"] += "\n\n" + content
            else:
                turns.append({"role": role, "content": content})
        if turns and turns[0]["role"] == "assistant":
            turns.insert(0, {"role": "user", "content": "(earlier in the conversation)"})
        return turns


@dataclass(frozen=True)
class ProviderConfig:
    """Where and as whom a provider calls: the server's settings by default (`from_settings`),
    or a tenant's own (queue_app.tenant_providers). `guarded`: the URL is a tenant's, so the
    outbound-address guard applies; the operator's own settings may name a private server."""

    base_url: str
    api_key: str
    model: str
    guarded: bool = False


def register(cls):
    PROVIDERS[cls.name] = cls
    return cls


def get_provider(name: str, **options) -> "Provider":
    try:
        cls = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"Unknown provider {name!r}; choose one of {', '.join(sorted(PROVIDERS))}.") from None
    return cls(**options)


class Provider(ABC):
    """Subclasses set `name` and implement `reply(prompt, on_text=None) -> str`; they raise
    ProviderError (the bot marks the message failed, deferred or dead with it)."""

    name = ""

    def __init__(self, *, sleep=time.sleep, config: ProviderConfig | None = None):
        self.sleep = sleep

    @abstractmethod
    def reply(self, prompt: Prompt, on_text=None) -> str:
        """The bot's answer to `prompt`. With `on_text`, the answer is streamed and
        `on_text(text_so_far)` is called as it grows (the caller throttles)."""

    def close(self) -> None:
        pass


@register
class EchoProvider(Provider):
    """Deterministic and offline: the default, so Harbor works with no keys."""

    name = "echo"

    def reply(self, prompt: Prompt, on_text=None) -> str:
        who = prompt.message.get("entity") or "echo"
        text = f"{who} heard: {prompt.message['text']}"
        if settings.QUEUE_ECHO_DELAY_SECONDS:
            if on_text is None:
                self.sleep(settings.QUEUE_ECHO_DELAY_SECONDS)
            else:  # a slow model streams: words over the delay
                words = text.split(" ")
                for n in range(1, len(words) + 1):
                    self.sleep(settings.QUEUE_ECHO_DELAY_SECONDS / len(words))
                    on_text(" ".join(words[:n]))
        return text


def _timeout(remaining: float) -> httpx2.Timeout:
    """Connect in seconds; each read (the gap between two bytes, or two streamed chunks) in
    minutes, but never past what is left of the message's deadline."""
    read = max(0.1, min(settings.QUEUE_PROVIDER_READ_TIMEOUT_MINUTES * 60, remaining))
    return httpx2.Timeout(read, connect=min(settings.QUEUE_PROVIDER_CONNECT_TIMEOUT_SECONDS, read))


def _provider_message(body) -> str:
    """The provider's own words from an error body: OpenAI's and Anthropic's are both
    `{"error": {"message", "type"/"code"}}`; Ollama's `{"error": "text"}`."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            code = error.get("code") or error.get("type") or ""
            message = error.get("message") or ""
            return f"{code}: {message}" if code and message else str(message or code or "")
        if isinstance(error, str):
            return error
    return str(body) if body else ""


class SdkProvider(Provider):
    """One official SDK client; `call(fn)` runs one SDK call under the breaker and retry
    policy. Subclasses set `settings_prefix` and `sdk_errors` (the SDK's exception module)."""

    settings_prefix = ""

    def __init__(self, *, sleep=time.sleep, config: ProviderConfig | None = None):
        super().__init__(sleep=sleep)
        self.config = config or self.from_settings()
        self.breaker_name = self.name if not self.config.guarded else f"{self.name}:{self.config.base_url}"[:100]
        self.http = guarded_httpx2_client() if self.config.guarded else httpx2.Client(trust_env=False)
        self.client = None

    @classmethod
    def from_settings(cls) -> ProviderConfig:
        prefix = cls.settings_prefix
        return ProviderConfig(getattr(settings, f"{prefix}_BASE_URL"), getattr(settings, f"{prefix}_API_KEY", ""),
                              getattr(settings, f"{prefix}_MODEL"))

    def close(self) -> None:
        self.http.close()

    def _require_key(self) -> None:
        if not self.config.api_key:
            raise ProviderError(f"{self.name}: no API key ({self.settings_prefix}_API_KEY is not set)")

    def _classify(self, exc: Exception) -> ProviderError:
        """The SDK's exception as a ProviderError that keeps the provider's own message."""
        errors = self.sdk_errors
        if isinstance(exc, errors.APIStatusError):
            status = exc.status_code
            said = _provider_message(exc.body) or exc.message
            headers = exc.response.headers
            retry_after = parse_retry_after(headers.get("retry-after"))
            try:  # OpenAI's and Anthropic's finer hint
                retry_after = max(0.0, float(headers["retry-after-ms"]) / 1000)
            except (KeyError, ValueError):
                pass
            permanent = 400 <= status < 500 and status not in TRANSIENT_4XX
            return ProviderError(f"{self.name}: HTTP {status}: {said}"[:ERROR_TEXT_MAX], permanent=permanent,
                                 not_processed=status in NOT_PROCESSED, retry_after=retry_after, status=status)
        if isinstance(exc, errors.APITimeoutError):
            return ProviderError(f"{self.name}: no answer within the read timeout", permanent=False)
        if isinstance(exc, errors.APIConnectionError):
            cause = exc.__cause__
            # Refused before a byte was sent: the outbound guard, or a connection never made.
            if isinstance(cause, ValueError) or "OutboundAddressRefused" in type(cause).__name__:
                return ProviderError(f"{self.name}: {cause}", permanent=True)
            never_sent = isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout)
            return ProviderError(f"{self.name}: {'could not connect' if never_sent else 'connection lost'}"
                                 f" ({type(cause).__name__ if cause else 'connection error'})",
                                 permanent=False, not_processed=never_sent)
        if isinstance(exc, errors.APIResponseValidationError):
            return ProviderError(f"{self.name}: a response of the wrong shape")
        return ProviderError(f"{self.name}: {type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX])

    def call(self, fn):
        """`fn(timeout)` once, or again only when the provider said it did not process it and
        asked for no longer a wait than RETRY_CAP_SECONDS (longer waits are the queue's), all
        within QUEUE_PROVIDER_DEADLINE_MINUTES. Breaker: one check and one record per attempt."""
        ends = time.monotonic() + settings.QUEUE_PROVIDER_DEADLINE_MINUTES * 60

        def attempt():
            try:
                trial = breaker.before_call(self.breaker_name)
            except CircuitOpen as exc:
                raise ProviderError(str(exc), permanent=False, deferred=True, retry_after=exc.retry_in) from None
            started = time.monotonic()
            try:
                result = fn(_timeout(ends - time.monotonic()), ends)
            except ProviderError:  # raised by fn itself: the provider answered
                breaker.record_success(self.breaker_name, (time.monotonic() - started) * 1000, trial=trial)
                raise
            except OutboundAddressRefused as exc:  # a tenant's URL, refused before a byte went out
                if trial:
                    breaker.record_failure(self.breaker_name, "trial interrupted", None, trial=True)
                raise ProviderError(f"{self.name}: {exc}") from None
            except self.sdk_errors.APIError as exc:
                error = self._classify(exc)
                elapsed_ms = (time.monotonic() - started) * 1000
                if error.permanent or (error.status and error.status < 500 and error.status != 429):
                    breaker.record_success(self.breaker_name, elapsed_ms, trial=trial)  # up; the request was wrong
                else:
                    breaker.record_failure(self.breaker_name, str(error), elapsed_ms, trial=trial)
                raise error from exc
            except BaseException:
                if trial:
                    breaker.record_failure(self.breaker_name, "trial interrupted", None, trial=True)
                raise
            breaker.record_success(self.breaker_name, (time.monotonic() - started) * 1000, trial=trial)
            return result

        def resend(error) -> bool:
            return (isinstance(error, ProviderError) and error.not_processed and not error.deferred
                    and (error.retry_after is None or error.retry_after <= settings.RETRY_CAP_SECONDS))

        return call_with_retry(
            attempt, is_retryable=resend, retry_after=lambda error: getattr(error, "retry_after", None),
            deadline=max(0.1, min(settings.RETRY_DEADLINE_SECONDS, ends - time.monotonic())),
            max_attempts=settings.RETRY_MAX_ATTEMPTS, base=settings.RETRY_BASE_SECONDS,
            cap=settings.RETRY_CAP_SECONDS, sleep=self.sleep,
        )


def _past(ends: float, name: str) -> None:
    if time.monotonic() > ends:
        raise ProviderError(f"{name}: no complete answer within QUEUE_PROVIDER_DEADLINE_MINUTES", permanent=False)


@register
class OpenAIProvider(SdkProvider):
    """Chat completions through the `openai` SDK. `OPENAI_BASE_URL` is the SDK's `base_url`
    (it includes `/v1`); limits are `max_completion_tokens` (`max_tokens` is deprecated for
    chat completions and refused by reasoning models)."""

    name = "openai"
    settings_prefix = "OPENAI"

    def __init__(self, **kwargs):
        import openai

        super().__init__(**kwargs)
        self.sdk_errors = openai
        self.client = openai.OpenAI(api_key=self.config.api_key or "unset", base_url=self.config.base_url,
                                    max_retries=0, http_client=self.http)

    def request(self, prompt: Prompt) -> dict:
        return {"model": self.config.model, "max_completion_tokens": settings.QUEUE_REPLY_MAX_TOKENS,
                "messages": [{"role": "system", "content": prompt.persona}, *prompt.chat()]}

    def reply(self, prompt, on_text=None):
        self._require_key()
        return self.call(lambda timeout, ends: self._stream(prompt, on_text, timeout, ends) if on_text
                         else self._whole(prompt, timeout))

    def _whole(self, prompt, timeout):
        completion = self.client.chat.completions.create(**self.request(prompt), timeout=timeout)
        try:
            message = completion.choices[0].message
        except (IndexError, AttributeError):
            raise ProviderError(f"{self.name}: no choices in the response") from None
        return self._finish(message.content, getattr(message, "refusal", None))

    def _stream(self, prompt, on_text, timeout, ends):
        parts, refusal = [], []
        with self.client.chat.completions.create(**self.request(prompt), stream=True, timeout=timeout) as stream:
            for chunk in stream:
                _past(ends, self.name)
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if getattr(delta, "refusal", None):
                    refusal.append(delta.refusal)
                if delta.content:
                    parts.append(delta.content)
                    on_text("".join(parts))
        return self._finish("".join(parts), "".join(refusal))

    def _finish(self, content, refusal) -> str:
        text = (content or "").strip()
        if not text:
            raise ProviderError(f"{self.name}: the model refused: {refusal}" if refusal
                                else f"{self.name}: the response has no content")
        return text


@register
class OllamaProvider(OpenAIProvider):
    """A preset of `openai`: Ollama's OpenAI-compatible endpoint (`OLLAMA_BASE_URL`, with
    `/v1`), no key needed."""

    name = "ollama"
    settings_prefix = "OLLAMA"

    def _require_key(self):
        pass


@register
class AnthropicProvider(SdkProvider):
    """The messages API through the `anthropic` SDK (its own `anthropic-version` header)."""

    name = "anthropic"
    settings_prefix = "ANTHROPIC"

    def __init__(self, **kwargs):
        import anthropic

        super().__init__(**kwargs)
        self.sdk_errors = anthropic
        self.client = anthropic.Anthropic(api_key=self.config.api_key or "unset", base_url=self.config.base_url,
                                          max_retries=0, http_client=self.http)

    def request(self, prompt: Prompt) -> dict:
        return {"model": self.config.model, "system": prompt.persona, "messages": prompt.chat(),
                "max_tokens": settings.QUEUE_REPLY_MAX_TOKENS}

    def reply(self, prompt, on_text=None):
        self._require_key()
        return self.call(lambda timeout, ends: self._stream(prompt, on_text, timeout, ends) if on_text
                         else self._whole(prompt, timeout))

    def _whole(self, prompt, timeout):
        message = self.client.messages.create(**self.request(prompt), timeout=timeout)
        text = "".join(block.text for block in (message.content or []) if getattr(block, "type", "") == "text")
        return self._finish(text, message.stop_reason)

    def _stream(self, prompt, on_text, timeout, ends):
        parts, stop_reason = [], None
        with self.client.messages.create(**self.request(prompt), stream=True, timeout=timeout) as stream:
            for event in stream:
                _past(ends, self.name)
                if event.type == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
                    parts.append(event.delta.text)
                    on_text("".join(parts))
                elif event.type == "message_delta":
                    stop_reason = getattr(event.delta, "stop_reason", None) or stop_reason
        return self._finish("".join(parts), stop_reason)

    def _finish(self, text, stop_reason) -> str:
        text = (text or "").strip()
        if not text:
            raise ProviderError(f"{self.name}: the model refused (stop_reason {stop_reason})" if stop_reason == "refusal"
                                else f"{self.name}: no text content in the response")
        return text


def persona_for(entity: str) -> str:
    return settings.QUEUE_PERSONAS.get(entity) or settings.QUEUE_DEFAULT_PERSONA

"""Language-model providers for the queue bot, behind one small interface and a registry.

    provider = get_provider("openai")
    text = provider.reply(Prompt(persona, thread, message))

Every HTTP call goes through project.resilience.http.HttpClient (retry with backoff, the
circuit breaker per provider, timeouts). The issue text says httpx; Harbor has one HTTP wrapper
and it is built on `requests`, so providers use that. Base URLs and keys come from settings,
which is how tests point each provider at a fake server on 127.0.0.1.

A provider instance holds an HttpClient (a requests.Session, not thread-safe): make one per
thread.
"""

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from django.conf import settings

from project.resilience.breaker import DependencyError
from project.resilience.http import HttpClient

PROVIDERS: dict[str, type["Provider"]] = {}


class ProviderError(DependencyError):
    """The provider answered, but not with something we can use. `permanent`: asking again will
    not help (a missing key, an unknown model, a response of the wrong shape)."""

    def __init__(self, message: str, *, permanent: bool = True):
        self.permanent = permanent
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


def register(cls):
    PROVIDERS[cls.name] = cls
    return cls


def get_provider(name: str, **options) -> "Provider":
    try:
        return PROVIDERS[name](**options)
    except KeyError:
        raise ValueError(f"Unknown provider {name!r}; choose one of {', '.join(sorted(PROVIDERS))}.") from None


class Provider(ABC):
    """Subclasses set `name` and implement `reply(prompt) -> str`; raise ProviderError or let
    HttpError / CircuitOpen through (the bot marks the message failed with the error)."""

    name = ""

    def __init__(self, *, sleep=time.sleep):
        self.sleep = sleep

    @abstractmethod
    def reply(self, prompt: Prompt) -> str:
        """The bot's answer to `prompt`."""

    def close(self) -> None:
        pass


class HttpProvider(Provider):
    base_url_setting = ""

    def __init__(self, *, sleep=time.sleep):
        super().__init__(sleep=sleep)
        self.client = HttpClient(self.name, getattr(settings, self.base_url_setting), headers=self.headers(), sleep=sleep)

    def headers(self) -> dict:
        return {}

    def post(self, path: str, payload: dict) -> dict:
        # A completion changes nothing on the provider's side, so retrying it is safe.
        response = self.client.request("POST", path, json=payload, idempotent=True)
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"{self.name}: the response is not JSON") from None

    def close(self) -> None:
        self.client.close()

    def _require_key(self, key: str, setting: str) -> str:
        if not key:
            raise ProviderError(f"{self.name}: {setting} is not set")
        return key


@register
class EchoProvider(Provider):
    """Deterministic and offline: the default, so Harbor works with no keys."""

    name = "echo"

    def reply(self, prompt: Prompt) -> str:
        if settings.QUEUE_ECHO_DELAY_SECONDS:
            self.sleep(settings.QUEUE_ECHO_DELAY_SECONDS)
        who = prompt.message.get("entity") or "echo"
        return f"{who} heard: {prompt.message['text']}"


@register
class OpenAIProvider(HttpProvider):
    """Chat completions (`POST /v1/chat/completions`)."""

    name = "openai"
    base_url_setting = "OPENAI_BASE_URL"

    def headers(self):
        return {"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}

    def reply(self, prompt):
        self._require_key(settings.OPENAI_API_KEY, "OPENAI_API_KEY")
        body = self.post(
            "/v1/chat/completions",
            {
                "model": settings.OPENAI_MODEL,
                "messages": [{"role": "system", "content": prompt.persona}, *prompt.chat()],
                "max_tokens": settings.QUEUE_REPLY_MAX_TOKENS,
            },
        )
        try:
            return body["choices"][0]["message"]["content"].strip()
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError("openai: no choices[0].message.content in the response") from None


@register
class AnthropicProvider(HttpProvider):
    """The messages API (`POST /v1/messages`)."""

    name = "anthropic"
    base_url_setting = "ANTHROPIC_BASE_URL"
    API_VERSION = "2023-06-01"

    def headers(self):
        return {"x-api-key": settings.ANTHROPIC_API_KEY, "anthropic-version": self.API_VERSION}

    def reply(self, prompt):
        self._require_key(settings.ANTHROPIC_API_KEY, "ANTHROPIC_API_KEY")
        body = self.post(
            "/v1/messages",
            {
                "model": settings.ANTHROPIC_MODEL,
                "system": prompt.persona,
                "messages": prompt.chat(),
                "max_tokens": settings.QUEUE_REPLY_MAX_TOKENS,
            },
        )
        try:
            text = "".join(block["text"] for block in body["content"] if block.get("type") == "text").strip()
        except (KeyError, TypeError, AttributeError):
            raise ProviderError("anthropic: no text content in the response") from None
        if not text:
            raise ProviderError("anthropic: no text content in the response")
        return text


@register
class OllamaProvider(HttpProvider):
    """A local Ollama server (`POST /api/chat`, not streamed)."""

    name = "ollama"
    base_url_setting = "OLLAMA_BASE_URL"

    def reply(self, prompt):
        body = self.post(
            "/api/chat",
            {
                "model": settings.OLLAMA_MODEL,
                "messages": [{"role": "system", "content": prompt.persona}, *prompt.chat()],
                "stream": False,
                "options": {"num_predict": settings.QUEUE_REPLY_MAX_TOKENS},
            },
        )
        try:
            return body["message"]["content"].strip()
        except (KeyError, TypeError, AttributeError):
            raise ProviderError("ollama: no message.content in the response") from None


def persona_for(entity: str) -> str:
    return settings.QUEUE_PERSONAS.get(entity) or settings.QUEUE_DEFAULT_PERSONA

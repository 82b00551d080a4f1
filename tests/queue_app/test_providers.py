"""Each provider through its official SDK against a local server speaking that provider's wire
format (JSON and SSE), reached through the SDK's own `base_url`. Durations are scaled through
settings: a "12 s" answer is 1.2 s against timeouts a tenth of the old ones."""

import anthropic
import pytest

from project.resilience.breaker import snapshot
from queue_app.providers import Prompt, ProviderConfig, ProviderError, get_provider

from .model_server import (
    anthropic_answer,
    anthropic_error,
    anthropic_stream,
    model_server,  # noqa: F401  (fixture)
    openai_answer,
    openai_error,
    openai_stream,
)

pytestmark = pytest.mark.django_db

PROMPT = Prompt(
    "You are Duke.",
    [{"id": "a", "text": "first", "username": "al", "message_type": "human"},
     {"id": "b", "text": "an answer", "username": "duke", "message_type": "ai"}],
    {"id": "c", "text": "and then?", "username": "al", "message_type": "human", "entity": "duke"},
)
CHAT = [
    {"role": "user", "content": "al: first"},
    {"role": "assistant", "content": "an answer"},
    {"role": "user", "content": "al: and then?"},
]


@pytest.fixture
def models(settings, model_server):  # noqa: F811
    settings.OPENAI_BASE_URL = settings.OLLAMA_BASE_URL = model_server.url + "/v1"
    settings.ANTHROPIC_BASE_URL = model_server.url
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = "sk-test"
    settings.OPENAI_MODEL, settings.ANTHROPIC_MODEL, settings.OLLAMA_MODEL = "gpt-test", "claude-test", "llama-test"
    settings.QUEUE_REPLY_MAX_TOKENS = 100
    # The old per-call limits, scaled (10 s read, 30 s deadline): providers no longer use them.
    settings.HTTP_TIMEOUT_SECONDS = (0.5, 1.0)
    settings.RETRY_DEADLINE_SECONDS = 3.0
    settings.QUEUE_PROVIDER_READ_TIMEOUT_MINUTES = 0.05  # 3 s
    settings.QUEUE_PROVIDER_DEADLINE_MINUTES = 0.1
    settings.RETRY_BASE_SECONDS = settings.RETRY_CAP_SECONDS = 0.5
    return model_server


def test_echo_is_deterministic_and_offline():
    assert get_provider("echo").reply(PROMPT) == "duke heard: and then?"


def test_openai_speaks_chat_completions_with_max_completion_tokens(models):
    models.push(openai_answer(" Onward. "))
    assert get_provider("openai").reply(PROMPT) == "Onward."
    [request] = models.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json == {"model": "gpt-test", "max_completion_tokens": 100,
                            "messages": [{"role": "system", "content": "You are Duke."}, *CHAT]}


def test_openai_streams_the_answer_as_it_grows(models):
    models.push(openai_stream(["Buy the ", "ticket, ", "take the ride."]))
    seen = []
    assert get_provider("openai").reply(PROMPT, on_text=seen.append) == "Buy the ticket, take the ride."
    assert seen == ["Buy the ", "Buy the ticket, ", "Buy the ticket, take the ride."]
    assert models.requests[0].json["stream"] is True


def test_anthropic_speaks_the_messages_api_with_the_sdks_version_header(models):
    models.push(anthropic_answer("Buy the ticket, take the ride."))
    assert get_provider("anthropic").reply(PROMPT) == "Buy the ticket, take the ride."
    [request] = models.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    # The SDK's own way of sending the key (2.x: a bearer token; 0.x: x-api-key).
    assert request.headers.get("x-api-key") == "sk-test" or request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["anthropic-version"] == anthropic._constants.ANTHROPIC_API_VERSION
    assert request.json == {"model": "claude-test", "system": "You are Duke.", "messages": CHAT, "max_tokens": 100}


def test_anthropic_streams_the_answer_as_it_grows(models):
    models.push(anthropic_stream(["Too weird ", "to live"]))
    seen = []
    assert get_provider("anthropic").reply(PROMPT, on_text=seen.append) == "Too weird to live"
    assert seen == ["Too weird ", "Too weird to live"]


def test_ollama_is_the_openai_sdk_on_its_v1_endpoint_without_a_key(models, settings):
    settings.OPENAI_API_KEY = ""
    models.push(openai_answer("Local answer"))
    assert get_provider("ollama").reply(PROMPT) == "Local answer"
    [request] = models.requests
    assert request.path == "/v1/chat/completions" and request.json["model"] == "llama-test"


def test_a_slow_answer_is_requested_once_and_delivered(models):
    reply = openai_answer("worth the wait")
    reply.delay = 1.2  # "12 s" against the old (scaled) 1 s read timeout and 3 s deadline
    models.push(reply)
    assert get_provider("openai").reply(PROMPT) == "worth the wait"
    assert models.count == 1


def test_a_read_timeout_is_not_resent(models, settings):
    settings.QUEUE_PROVIDER_READ_TIMEOUT_MINUTES = 0.01  # 0.6 s
    reply = openai_answer("too late")
    reply.delay = 1.5
    models.push(reply)
    with pytest.raises(ProviderError) as raised:
        get_provider("openai").reply(PROMPT)
    assert not raised.value.permanent and not raised.value.not_processed
    assert models.count == 1  # it may have run and been billed: the queue's backoff decides


@pytest.mark.parametrize("name, error", [
    ("openai", openai_error(400, "model_not_found", "The model `gpt-test` does not exist")),
    ("anthropic", anthropic_error(404, "not_found_error", "model: claude-test")),
])
def test_a_4xx_is_permanent_with_the_providers_own_message(models, name, error):
    models.push(error)
    with pytest.raises(ProviderError) as raised:
        get_provider(name).reply(PROMPT)
    assert raised.value.permanent and models.count == 1
    said = error.body["error"]["message"]
    assert said in str(raised.value)
    if name == "openai":
        assert "model_not_found" in str(raised.value)


def test_a_short_retry_after_is_waited_in_the_call(models):
    models.push(openai_error(429, "rate_limit_exceeded", "slow down", {"Retry-After": "0.2"}), openai_answer("ok"))
    assert get_provider("openai").reply(PROMPT) == "ok"
    assert models.count == 2


@pytest.mark.parametrize("name, error", [
    ("openai", openai_error(429, "rate_limit_exceeded", "Rate limit reached", {"Retry-After": "70"})),
    ("anthropic", anthropic_error(529, "overloaded_error", "Overloaded", {"Retry-After": "70"})),
])
def test_a_long_retry_after_goes_back_to_the_queue(models, name, error):
    models.push(error)
    with pytest.raises(ProviderError) as raised:
        get_provider(name).reply(PROMPT)
    assert raised.value.not_processed and raised.value.retry_after == 70 and not raised.value.permanent
    assert models.count == 1


def test_a_refusal_without_content_is_permanent(models):
    models.push(anthropic_answer("", stop_reason="refusal"))
    with pytest.raises(ProviderError, match="refused") as raised:
        get_provider("anthropic").reply(PROMPT)
    assert raised.value.permanent


def test_a_missing_key_fails_before_calling(models, settings):
    settings.OPENAI_API_KEY = ""
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        get_provider("openai").reply(PROMPT)
    assert models.count == 0


def test_the_breaker_opens_and_then_defers_without_calling(models, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    settings.RETRY_MAX_ATTEMPTS = 1
    models.default = anthropic_error(500, "api_error", "Internal server error")
    provider = get_provider("anthropic")
    for _ in range(2):
        with pytest.raises(ProviderError):
            provider.reply(PROMPT)
    with pytest.raises(ProviderError) as raised:
        provider.reply(PROMPT)
    assert raised.value.deferred and raised.value.retry_after > 0
    assert models.count == 2  # the open breaker kept the third call home
    assert snapshot("anthropic")["breaker"] == "open"


def test_a_tenants_base_url_passes_the_outbound_guard(models, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    provider = get_provider("openai", config=ProviderConfig(models.url + "/v1", "sk-tenant", "m", guarded=True))
    with pytest.raises(ProviderError, match="private or reserved") as raised:
        provider.reply(PROMPT)
    assert raised.value.permanent and models.count == 0


def test_an_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="echo"):
        get_provider("nope")

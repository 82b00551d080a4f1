"""Each provider against a fake server speaking its wire format, through the one HTTP client."""

import json

import pytest

from project.resilience.breaker import CircuitOpen
from project.resilience.http import HttpError
from queue_app.providers import Prompt, ProviderError, get_provider

from ..resilience.fake_server import fake_server  # noqa: F401  (fixture)

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
def providers_at(settings, fake_server):  # noqa: F811
    settings.OPENAI_BASE_URL = settings.ANTHROPIC_BASE_URL = settings.OLLAMA_BASE_URL = fake_server.url
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = "sk-test"
    settings.OPENAI_MODEL, settings.ANTHROPIC_MODEL, settings.OLLAMA_MODEL = "gpt-test", "claude-test", "llama-test"
    settings.QUEUE_REPLY_MAX_TOKENS = 100
    settings.RETRY_MAX_ATTEMPTS = 1
    return fake_server


def sent(server):
    method, path, body = server.received[-1]
    return method, path, json.loads(body)


def test_echo_is_deterministic_and_offline():
    assert get_provider("echo").reply(PROMPT) == "duke heard: and then?"


def test_openai_speaks_chat_completions(providers_at):
    providers_at.push(200, body=json.dumps({"choices": [{"message": {"role": "assistant", "content": " Onward. "}}]}).encode())
    assert get_provider("openai").reply(PROMPT) == "Onward."
    method, path, body = sent(providers_at)
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert body == {"model": "gpt-test", "max_tokens": 100,
                    "messages": [{"role": "system", "content": "You are Duke."}, *CHAT]}


def test_anthropic_speaks_the_messages_api(providers_at):
    reply = {"content": [{"type": "text", "text": "Buy the ticket, "}, {"type": "text", "text": "take the ride."}]}
    providers_at.push(200, body=json.dumps(reply).encode())
    assert get_provider("anthropic").reply(PROMPT) == "Buy the ticket, take the ride."
    method, path, body = sent(providers_at)
    assert (method, path) == ("POST", "/v1/messages")
    assert body == {"model": "claude-test", "system": "You are Duke.", "messages": CHAT, "max_tokens": 100}


def test_ollama_speaks_its_chat_api(providers_at):
    providers_at.push(200, body=json.dumps({"message": {"role": "assistant", "content": "Local answer"}, "done": True}).encode())
    assert get_provider("ollama").reply(PROMPT) == "Local answer"
    method, path, body = sent(providers_at)
    assert (method, path) == ("POST", "/api/chat")
    assert body["stream"] is False and body["model"] == "llama-test" and body["messages"][1:] == CHAT


@pytest.mark.parametrize("name", ["openai", "anthropic", "ollama"])
def test_a_response_of_the_wrong_shape_is_a_permanent_error(providers_at, name):
    providers_at.push(200, body=b'{"unexpected": true}')
    with pytest.raises(ProviderError) as raised:
        get_provider(name).reply(PROMPT)
    assert raised.value.permanent


def test_a_missing_key_fails_before_calling(providers_at, settings):
    settings.OPENAI_API_KEY = ""
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        get_provider("openai").reply(PROMPT)
    assert providers_at.count == 0


def test_a_4xx_is_permanent_and_a_5xx_temporary(providers_at):
    providers_at.push(401, body=b'{"error": "bad key"}').push(503)
    provider = get_provider("anthropic")
    with pytest.raises(HttpError) as raised:
        provider.reply(PROMPT)
    assert raised.value.permanent and raised.value.status == 401
    with pytest.raises(HttpError) as raised:
        provider.reply(PROMPT)
    assert not raised.value.permanent


@pytest.mark.parametrize("name", ["openai", "anthropic", "ollama"])
def test_the_breaker_opens_after_repeated_failures(providers_at, settings, name):
    settings.BREAKER_FAILURE_THRESHOLD = 3
    providers_at.default.status = 500
    provider = get_provider(name, sleep=lambda s: None)
    for _ in range(3):
        with pytest.raises(HttpError):
            provider.reply(PROMPT)
    with pytest.raises(CircuitOpen):
        provider.reply(PROMPT)
    assert providers_at.count == 3  # the open breaker kept the fourth call home


def test_an_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="echo"):
        get_provider("nope")

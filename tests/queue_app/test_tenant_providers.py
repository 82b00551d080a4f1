"""Each tenant brings its own provider: its owner sets provider, model, base URL and key over the
API; bots inside Harbor answer the tenant's stream with them (the public stream with the
server's); the key is encrypted at rest and never shown again, logged or returned."""

import json
import logging

import pytest

from project.accounts import services as accounts
from project.accounts.models import Membership
from project.realtime.models import Event
from queue_app import services, tenant_providers
from queue_app.bot import BotEngine
from queue_app.models import QueueMessage, TenantProvider

from ..conftest import bearer_client, run_manage
from .model_server import anthropic_stream, model_server, openai_error, openai_stream  # noqa: F401

ALICE_KEY = "sk-alice-0123456789-wxyz"
MALLORY_KEY = "sk-ant-mallory-9876-abcd"


@pytest.fixture
def open_network(settings):
    # The model server is on 127.0.0.1: the guard's production rule would refuse it.
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_ALLOW_HTTP = True
    settings.QUEUE_STREAM_INTERVAL_SECONDS = 0.01


def put(client, tenant_id, **body):
    return client.put(f"/api/tenants/{tenant_id}/queue_provider", body, format="json")


@pytest.mark.django_db(transaction=True)
def test_two_tenants_are_answered_with_their_own_keys_which_never_show_in_clear(
        alice, acme, bob, mallory, model_server, open_network, caplog):  # noqa: F811
    evil = accounts.create_tenant(mallory, "Evil")
    model_server.by_key = {ALICE_KEY: openai_stream(["Acme's ", "answer"]),
                           MALLORY_KEY: anthropic_stream(["Evil's ", "answer"])}
    alice_api, mallory_api = bearer_client(alice), bearer_client(mallory)
    saved = put(alice_api, acme.pk, provider="openai", model="gpt-acme", base_url=model_server.url + "/v1",
                api_key=ALICE_KEY)
    assert saved.status_code == 200, saved.json()
    assert saved.json()["api_key_last4"] == "wxyz" and saved.json()["has_api_key"] is True
    assert put(mallory_api, evil.pk, provider="anthropic", model="claude-evil", base_url=model_server.url,
               api_key=MALLORY_KEY).status_code == 200
    caplog.set_level(logging.DEBUG)
    in_acme = services.post_message(bob, "hi acme", tenant_id=acme.pk)
    in_evil = services.post_message(mallory, "hi evil", tenant_id=evil.pk)
    public = services.post_message(alice, "hi everyone")
    assert BotEngine(once=True, concurrency=3).run().answered == 3  # the server's provider: echo
    assert QueueMessage.objects.get(reply_to=in_acme).text == "Acme's answer"
    assert QueueMessage.objects.get(reply_to=in_evil).text == "Evil's answer"
    assert QueueMessage.objects.get(reply_to=public).text == "echo heard: hi everyone"
    sent = {r.json["model"]: r.headers.get("authorization") or r.headers.get("x-api-key") for r in model_server.requests}
    assert sent == {"gpt-acme": f"Bearer {ALICE_KEY}", "claude-evil": f"Bearer {MALLORY_KEY}"}
    # Never in clear: not in the table, the event log, any response, any log line.
    for row in TenantProvider.objects.all():
        assert ALICE_KEY not in row.api_key_encrypted and MALLORY_KEY not in row.api_key_encrypted
    shown = [json.dumps(saved.json()), json.dumps(alice_api.get(f"/api/tenants/{acme.pk}/queue_provider").json()),
             json.dumps([e.data for e in Event.objects.all()]), caplog.text]
    for text in shown:
        assert ALICE_KEY not in text and MALLORY_KEY not in text


@pytest.mark.django_db
def test_only_the_owner_reads_or_sets_it_and_other_tenants_see_nothing(alice, acme, bob, mallory, open_network):
    assert put(bearer_client(bob), acme.pk, provider="openai", model="m", api_key="sk-x").status_code == 403
    assert put(bearer_client(mallory), acme.pk, provider="openai", model="m", api_key="sk-x").status_code == 404
    assert bearer_client(mallory).get(f"/api/tenants/{acme.pk}/queue_provider").status_code == 404
    assert bearer_client(alice).get(f"/api/tenants/{acme.pk}/queue_provider").status_code == 404  # none set yet


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"provider": "skynet", "model": "m", "api_key": "k"}, "provider"),
    ({"provider": "openai", "model": "", "api_key": "k"}, "model"),
    ({"provider": "openai", "model": "m"}, "api_key"),  # no key saved yet
    ({"provider": "openai", "model": "m", "api_key": "k", "base_url": "ftp://x"}, "base_url"),
    ({"provider": "openai", "model": "m", "api_key": "k", "colour": "red"}, "colour"),
])
def test_bad_settings_are_a_400_naming_the_field(alice, acme, body, field, open_network):
    response = bearer_client(alice).put(f"/api/tenants/{acme.pk}/queue_provider", body, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"], response.json()


@pytest.mark.django_db
def test_a_private_base_url_is_refused_when_saved(alice, acme, settings):
    settings.OUTBOUND_ALLOW_HTTP = True
    response = put(bearer_client(alice), acme.pk, provider="openai", model="m", api_key="sk-x",
                   base_url="http://127.0.0.1:6379/v1")
    assert response.status_code == 400 and "private or reserved" in json.dumps(response.json()["error"]["fields"]["base_url"])


@pytest.mark.django_db(transaction=True)
def test_the_connection_test_shows_the_answer_or_the_providers_own_error(alice, acme, model_server, open_network):  # noqa: F811
    client = bearer_client(alice)
    put(client, acme.pk, provider="openai", model="gpt-acme", base_url=model_server.url + "/v1", api_key=ALICE_KEY)
    model_server.push(openai_error(401, "invalid_api_key", "Incorrect API key provided"))
    failed = client.post(f"/api/tenants/{acme.pk}/queue_provider/test").json()
    assert failed["ok"] is False and "Incorrect API key provided" in failed["error"] and ALICE_KEY not in failed["error"]
    ok = client.post(f"/api/tenants/{acme.pk}/queue_provider/test").json()
    assert ok == {"ok": True, "reply": "default answer", "error": None}


@pytest.mark.django_db
def test_saving_without_a_key_keeps_the_saved_one(alice, acme, open_network):
    client = bearer_client(alice)
    put(client, acme.pk, provider="openai", model="one", api_key=ALICE_KEY)
    again = put(client, acme.pk, provider="openai", model="two")
    assert again.status_code == 200 and again.json()["api_key_last4"] == "wxyz"
    membership = Membership.objects.get(user=alice, tenant=acme)
    assert tenant_providers.provider_for(acme.pk)[1].api_key == ALICE_KEY
    assert client.delete(f"/api/tenants/{acme.pk}/queue_provider").status_code == 204
    assert tenant_providers.get_settings(membership) is None and tenant_providers.provider_for(acme.pk) is None


@pytest.mark.django_db(transaction=True)
def test_rotate_token_keys_reencrypts_tenants_keys(alice, acme, settings, open_network):
    from cryptography.fernet import Fernet

    old, new = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    put(bearer_client(alice), acme.pk, provider="openai", model="m", api_key=ALICE_KEY)
    result = run_manage("rotate_token_keys", FIELD_ENCRYPTION_KEYS=f"{new},{old}")
    assert result.returncode == 0, result.stderr
    assert "provider keys of 1 tenants" in result.stdout
    settings.FIELD_ENCRYPTION_KEYS = [new]
    tenant_providers._cache.clear()
    assert tenant_providers.provider_for(acme.pk)[1].api_key == ALICE_KEY


@pytest.mark.django_db
def test_the_owner_sets_it_on_its_page_and_the_key_is_never_shown_again(alice, acme, bob, client, open_network):
    client.force_login(alice)
    page = f"/tenants/{acme.pk}/queue_provider/"
    assert client.get(f"/tenants/{acme.pk}/").content.decode().count(page) == 1
    saved = client.post(page, {"save": "1", "provider": "openai", "model": "gpt-acme", "base_url": "",
                               "api_key": ALICE_KEY})
    assert saved.status_code == 302
    html = client.get(page).content.decode()
    assert "…wxyz" in html and "gpt-acme" in html and ALICE_KEY not in html and "Test connection" in html
    bad = client.post(page, {"save": "1", "provider": "openai", "model": "", "api_key": ""})
    assert bad.status_code == 400 and ALICE_KEY not in bad.content.decode()
    client.force_login(bob)
    assert client.get(page).status_code == 403

"""Inputs written to hurt: each gets a 4xx with the JSON error shape, nothing is stored that
should not be, and what is stored comes back exactly and renders escaped."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from project.realtime.models import Event
from queue_app.models import QueueMessage
from workflows import services as workflows
from workflows.models import MediaFile, Message

pytestmark = pytest.mark.django_db

HOSTILE_TEXT = "'; DROP TABLE workflows_message; -- <script>alert('x')</script> {{ 7*7 }} ${7*7}"


@pytest.fixture
def workflow(acme, alice, bob):
    return workflows.create_workflow(acme, alice, "Under attack", [(bob.email, "editor")])


def messages_url(workflow):
    return f"/api/workflows/{workflow.pk}/messages"


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


def test_a_huge_body_is_refused(alice_api, workflow):
    response = alice_api.post(messages_url(workflow), json.dumps({"content": "x" * 3_000_000}), content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert not Message.objects.exists()


def test_deeply_nested_json_is_a_400_not_a_crash(alice_api, workflow):
    body = "[" * 100_000 + "]" * 100_000
    response = alice_api.post(messages_url(workflow), body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_invalid_utf8_is_a_400(alice_api, workflow):
    response = alice_api.post(messages_url(workflow), b'{"content": "\xff\xfe"}', content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_a_wrong_content_type_is_a_415(alice_api, workflow):
    response = alice_api.post(messages_url(workflow), "content=hi", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=-1", "limit"), ("limit=1" + "0" * 30, "limit"), ("limit=", "limit"), ("limit=null", "limit"),
        ("cursor=", "cursor"), ("cursor=not-a-cursor", "cursor"),
        # base64 of "x=1": it decodes, but to no position (DRF would serve the first page)
        ("cursor=eD0x", "cursor"),
        # base64 of "p=abc": a position that is not an id
        ("cursor=cD1hYmM%3D", "cursor"),
        # base64 of "p=99999999999999999999": a number no id column holds
        ("cursor=cD05OTk5OTk5OTk5OTk5OTk5OTk5OQ%3D%3D", "cursor"),
    ],
)
def test_bad_limits_and_cursors_are_400s_naming_the_field(alice_api, workflow, query, field):
    response = alice_api.get(f"{messages_url(workflow)}?{query}")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]


@pytest.mark.parametrize(
    "path", ["/api/feed", "/api/notifications", "/api/tenants", "/api/workflows", "/api/queue/messages", "/api/auth/tokens",
             "/api/subscriptions", "/api/subscriptions/accounts"],
)
@pytest.mark.parametrize("cursor", ["eD0x", "cD1hYmM%3D", "cD05OTk5OTk5OTk5OTk5OTk5OTk5OQ%3D%3D"])
def test_every_list_refuses_a_cursor_it_did_not_issue(alice_api, path, cursor):
    response = alice_api.get(f"{path}?cursor={cursor}")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["cursor"]


@pytest.mark.parametrize("query", ["page_size=null", "page_size=0", "page_size=201", "status=", "tenant="])
def test_seed_000s_numbered_pages_refuse_what_they_cannot_serve(alice_api, workflow, query):
    response = alice_api.get(f"/api/workflow?{query}")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [query.split("=")[0]]


@pytest.mark.parametrize(
    "body, field",
    [({"content": 5}, "content"), ({"content": ["hi"]}, "content"), ({"content": "hi", "contnet": "typo"}, "contnet")],
)
def test_a_body_field_of_the_wrong_type_or_unknown_is_a_400_naming_it(alice_api, workflow, body, field):
    response = alice_api.post(messages_url(workflow), body, format="json")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [field]
    assert not Message.objects.filter(content__in=["5", "hi"]).exists()


@pytest.mark.parametrize(
    "path",
    ["/api/workflows/%00", "/api/workflow/messages?workflowId=%00", "/api/tenants/%00/members", "/share/a%00b"],
)
def test_nul_characters_in_urls_are_a_400(alice_api, path):
    response = alice_api.get(path)
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert error_of(response)["code"] == "bad_request"


def test_nul_characters_in_text_are_a_400_naming_the_field(alice_api, workflow):
    response = alice_api.post(messages_url(workflow), {"content": "a\x00b"}, format="json")
    assert response.status_code == 400
    assert "content" in error_of(response)["fields"]


# PostgreSQL refuses NUL in text and jsonb, and a lone surrogate anywhere (a DataError, a 500);
# SQLite stores both, so these assert the 400 naming the field, which both databases must give.
# Written as JSON escapes: a JSON string may not hold a raw control character.
NUL, LONE_SURROGATE = r"\u0000", r"\ud800"


def notification_url(workflow):
    return f"/api/workflows/{workflow.pk}/events"


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    "data",
    [
        '{{"note": "a{bad}b"}}',
        '{{"a{bad}b": "note"}}',
        '{{"deep": [1, {{"deeper": ["ok", "a{bad}b"]}}]}}',
        '{{"deep": [{{"a{bad}b": null}}]}}',
    ],
    ids=["value", "key", "nested-value", "nested-key"],
)
def test_unstorable_text_in_a_json_body_is_a_400_naming_the_top_level_field(alice_api, workflow, bad, data):
    before = Event.objects.count()
    body = '{"type": "ping", "data": ' + data.format(bad=bad) + "}"
    response = alice_api.post(notification_url(workflow), body, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and list(error["fields"]) == ["data"]
    assert Event.objects.count() == before


def test_the_json_check_names_every_field_and_a_bad_top_level_key(alice_api, workflow):
    body = '{"content": "a\\u0000", "x\\ud800": 1, "data": {"k": "\\udfff"}}'
    response = alice_api.post(notification_url(workflow), body, content_type="application/json")
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"content", "data", "non_field_errors"}


def test_paired_surrogates_are_fine(alice_api, workflow):
    body = '{"type": "ping", "data": {"\\ud83d\\ude00": "\\ud83d\\ude00"}}'
    assert alice_api.post(notification_url(workflow), body, content_type="application/json").status_code == 202


@pytest.mark.parametrize(
    "route, data, field",
    [
        ("tenant_switch", {"tenant_id": "a\x00b"}, "tenant_id"),
        ("tenant_member_remove", {"email": "x\x00@y.z"}, "email"),
        ("queue_stream", {"text": "hi\x00"}, "text"),
    ],
)
def test_nul_characters_in_a_form_are_a_400_page_naming_the_field(client, alice, acme, route, data, field):
    client.force_login(alice)
    url = reverse(route, kwargs={"tenant_id": acme.pk} if route == "tenant_member_remove" else None)
    response = client.post(url, data)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert f"The field “{field}” contains a null character" in response.text
    assert "Signed in as <strong>alice@example.com</strong>" in response.text  # the usual layout
    assert not QueueMessage.objects.exists()


def test_a_nul_character_in_a_form_field_name_is_a_400(client, alice):
    client.force_login(alice)
    response = client.post(reverse("tenant_switch"), {"tenant\x00id": "x"})
    assert response.status_code == 400
    assert "A field name in the form contains a null character" in response.text


def test_a_nul_character_beside_an_upload_is_a_400_and_stores_no_file(client, alice, workflow):
    client.force_login(alice)
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post(reverse("workflow_upload", args=[workflow.pk]), {"file": upload, "note": "a\x00"})
    assert response.status_code == 400
    assert "The field “note” contains a null character" in response.text
    assert not MediaFile.objects.exists()


def test_hostile_text_is_stored_verbatim_and_rendered_escaped(alice_api, client, alice, workflow):
    response = alice_api.post(messages_url(workflow), {"content": HOSTILE_TEXT}, format="json")
    assert response.status_code == 201
    assert response.json()["content"] == HOSTILE_TEXT
    client.force_login(alice)
    page = client.get(f"/workflows/{workflow.pk}/").content.decode()
    assert "<script>alert('x')</script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page  # never evaluated as a template


def test_a_path_in_an_upload_name_is_reduced_to_its_last_part(alice_api, workflow, settings):
    upload = SimpleUploadedFile("../../../etc/passwd.txt", b"root:x:0:0", content_type="text/plain")
    response = alice_api.post(f"/api/workflows/{workflow.pk}/media", {"file": upload}, format="multipart")
    assert response.status_code == 201
    media = MediaFile.objects.get()
    assert media.original_name == "passwd.txt"
    stored = media.file.path
    assert stored.startswith(str(settings.MEDIA_ROOT)) and ".." not in media.file.name

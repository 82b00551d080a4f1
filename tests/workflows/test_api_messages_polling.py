"""Polling a workflow's messages: every page has an ETag, and the same page asked for again with
`If-None-Match` is a 304 that reads no message while nothing changed (docs/api.md, "Polling")."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from project.accounts import services as accounts
from workflows import services

from ..conftest import bearer_client
from .conftest import access

pytestmark = pytest.mark.django_db


def page_url(workflow, query="limit=50"):
    return f"/api/workflows/{workflow.pk}/messages?{query}"


def poll(client, url, etag):
    return client.get(url, HTTP_IF_NONE_MATCH=etag)


def test_an_unchanged_page_is_a_304_that_reads_no_message(workflow, bob, erin, django_assert_num_queries, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(access(bob, workflow), "hello")
    client = bearer_client(erin)
    first = client.get(page_url(workflow))
    assert first.status_code == 200 and [m["content"] for m in first.json()["results"]] == ["hello"]
    etag = first["ETag"]
    assert etag.startswith('W/"') and first["Cache-Control"] == "private, no-cache"
    assert first["Vary"] == "Authorization, Cookie, Accept"
    # the token, the access check and the version, then the pass kept for the next polls
    # (project.polls): nothing from the messages table
    with CaptureQueriesContext(connection) as exact:
        assert poll(client, page_url(workflow), etag).status_code == 304
    # with the pass: the versions only, Redis's in scale-out or the event log's in one statement
    with django_assert_num_queries(0 if settings.REDIS_URL else 1) as captured:
        again = poll(client, page_url(workflow), etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert not any("workflows_message" in query["sql"] for query in exact.captured_queries + captured.captured_queries)


@pytest.mark.parametrize("change", ["post", "edit", "delete"])
def test_every_change_to_the_messages_makes_the_page_new(workflow, bob, erin, change, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.post_message(access(bob, workflow), "hello")
    client = bearer_client(erin)
    etag = client.get(page_url(workflow))["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        if change == "post":
            services.post_message(access(bob, workflow), "again")
        elif change == "edit":
            services.edit_message(access(bob, workflow), message.pk, "hello, edited")
        else:
            services.delete_message(access(bob, workflow), message.pk)
    changed = poll(client, page_url(workflow), etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert poll(client, page_url(workflow), changed["ETag"]).status_code == 304


def test_the_etag_names_the_page_and_the_caller(workflow, bob, erin, victor):
    erins, victors = bearer_client(erin), bearer_client(victor)
    etag = erins.get(page_url(workflow))["ETag"]
    assert poll(erins, page_url(workflow, "limit=10"), etag).status_code == 200
    assert poll(victors, page_url(workflow), etag).status_code == 200
    assert poll(erins, page_url(workflow), f'"other", {etag}').status_code == 304
    assert poll(erins, page_url(workflow), "*").status_code == 200
    assert poll(erins, page_url(workflow, "cursor=bogus"), etag).status_code == 400


def test_a_revoked_token_and_a_removed_participant_never_get_a_304(workflow, bob, erin, victor, django_capture_on_commit_callbacks):
    token, raw = accounts.issue_api_token(erin, "poller")
    client = bearer_client(erin)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    etag = client.get(page_url(workflow))["ETag"]
    assert poll(client, page_url(workflow), etag).status_code == 304  # keeps a pass (project.polls)
    with django_capture_on_commit_callbacks(execute=True):
        accounts.revoke_api_token(token)
    assert poll(client, page_url(workflow), etag).status_code == 401

    viewer = bearer_client(victor)
    etag = viewer.get(page_url(workflow))["ETag"]
    assert poll(viewer, page_url(workflow), etag).status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_participant(access(bob, workflow), victor.email)
    assert poll(viewer, page_url(workflow), etag).status_code == 404


def test_a_cursor_page_polls_for_what_comes_after_it(workflow, bob, erin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(access(bob, workflow), "one")
    client = bearer_client(erin)
    cursor = client.get(page_url(workflow)).json()["next_cursor"]
    empty = client.get(page_url(workflow, f"cursor={cursor}"))
    assert empty.json()["results"] == []
    assert poll(client, page_url(workflow, f"cursor={cursor}"), empty["ETag"]).status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(access(bob, workflow), "two")
    fresh = poll(client, page_url(workflow, f"cursor={cursor}"), empty["ETag"])
    assert fresh.status_code == 200 and [m["content"] for m in fresh.json()["results"]] == ["two"]

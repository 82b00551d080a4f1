"""project.polls.UnchangedPolls: an unchanged poll with a bearer token is answered before DRF
with the very 304 the view gives, and never where the view would refuse (each polled list's
routes are covered for revocation and removal by their own polling tests, which run through it),
and a pass kept for later polls ends with the caller's right."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from project import polls
from project.realtime import versions
from project.accounts import services as accounts
from project.accounts.models import ApiToken, Membership
from project.throttling import UserRateThrottle
from workflows import services
from workflows.models import Participant

from ..conftest import bearer_client
from ..workflows.conftest import access, erin, victor, workflow  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

POLLED = ["/api/notifications", "/api/queue/messages", "/api/feed", "workflow"]


def url_of(route, workflow):
    return f"/api/workflows/{workflow.pk}/messages" if route == "workflow" else route


@pytest.mark.parametrize("route", POLLED)
def test_the_early_304_is_the_views_own(route, workflow, erin):
    url = url_of(route, workflow)
    token_client = bearer_client(erin)
    page = token_client.get(url)
    assert page.status_code == 200
    early = token_client.get(url, HTTP_IF_NONE_MATCH=page["ETag"])
    session_client = APIClient()
    session_client.force_login(erin)  # sessions are not answered early: this 304 is the view's
    late = session_client.get(url, HTTP_IF_NONE_MATCH=page["ETag"])
    assert early.status_code == late.status_code == 304
    for header in ("ETag", "Cache-Control", "Vary"):
        assert early[header] == late[header] == page[header]
    for header in ("X-Content-Type-Options", "Content-Security-Policy"):  # the security middleware's
        assert early[header] == late[header]


def test_a_changed_list_and_what_the_view_refuses_go_to_the_view(workflow, bob, erin, django_capture_on_commit_callbacks):
    url = url_of("workflow", workflow)
    client = bearer_client(erin)
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag, HTTP_ACCEPT="application/xml").status_code == 406
    assert client.get(url, HTTP_IF_NONE_MATCH=etag, HTTP_HOST="evil.example").status_code == 400
    assert client.get(f"{url}?format=json", HTTP_IF_NONE_MATCH=etag).status_code == 200  # another URL, another ETag
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(access(bob, workflow), "news")
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and [m["content"] for m in changed.json()["results"]] == ["news"]
    malformed = APIClient(HTTP_AUTHORIZATION="Bearer a b")
    assert malformed.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 401


def test_early_304s_count_against_the_callers_rate(workflow, erin, settings):
    UserRateThrottle.THROTTLE_RATES = {**UserRateThrottle.THROTTLE_RATES, "user": "3/min"}
    try:
        client = bearer_client(erin)
        url = url_of("workflow", workflow)
        etag = client.get(url)["ETag"]
        statuses = [client.get(url, HTTP_IF_NONE_MATCH=etag).status_code for _ in range(3)]
        assert statuses == [304, 304, 429]
    finally:
        UserRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def token_client(user):
    token, raw = accounts.issue_api_token(user, "poller")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return token, client


def polled_twice(client, url) -> str:
    """The page's ETag, after an exact 304 that keeps a pass and a 304 answered from it."""
    etag = client.get(url)["ETag"]
    assert [client.get(url, HTTP_IF_NONE_MATCH=etag).status_code for _ in range(2)] == [304, 304]
    return etag


def test_a_kept_pass_reads_neither_the_token_nor_the_access(workflow, erin):
    _, client = token_client(erin)
    url = url_of("workflow", workflow)
    etag = polled_twice(client, url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    read = " ".join(query["sql"] for query in queries.captured_queries)
    for table in (ApiToken._meta.db_table, Participant._meta.db_table, Membership._meta.db_table):
        assert table not in read


def _revoke(token, erin, acme, alice):
    accounts.revoke_api_token(token)


def _deactivate(token, erin, acme, alice):
    erin.is_active = False
    erin.save()


def _remove_from_tenant(token, erin, acme, alice):
    accounts.remove_member(acme, Membership.objects.get(user=alice, tenant=acme), erin.email)


@pytest.mark.parametrize(
    ("end_right", "refused"),
    [(_revoke, 401), (_deactivate, 401), (_remove_from_tenant, 404)],
)
def test_a_right_that_ends_is_refused_at_once_despite_a_kept_pass(end_right, refused, acme, alice, erin, django_capture_on_commit_callbacks):
    token, client = token_client(erin)
    url = f"/api/queue/messages?tenant_id={acme.pk}"  # the stream's group is not the caller's
    etag = polled_twice(client, url)
    with django_capture_on_commit_callbacks(execute=True):
        end_right(token, erin, acme, alice)
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == refused


def test_an_expired_token_is_refused_at_once_despite_a_kept_pass(acme, erin):
    """An expiry publishes nothing: the pass knows the token's expiry itself."""
    token, raw = accounts.issue_api_token(erin, "poller", expires_in=timedelta(seconds=1.5))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/queue/messages?tenant_id={acme.pk}"
    etag = polled_twice(client, url)
    time.sleep(max(0.0, (token.expires_at - timezone.now()).total_seconds()) + 0.05)
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 401


@pytest.mark.parametrize("revoked", ["before", "after"])
def test_a_right_that_ends_while_a_pass_is_made_leaves_no_pass(revoked, monkeypatch, workflow, erin, django_capture_on_commit_callbacks):
    """The pass reads its rights' versions, then checks again: a revocation on either side of
    that read is refused at the next poll."""
    token, client = token_client(erin)
    url = url_of("workflow", workflow)
    etag = client.get(url)["ETag"]
    real = polls.list_versions

    def revoking(groups, then=None):
        if revoked == "after":
            read = real(groups, then)
        with django_capture_on_commit_callbacks(execute=True):
            accounts.revoke_api_token(token)
        return read if revoked == "after" else real(groups, then)

    monkeypatch.setattr(polls, "list_versions", revoking)
    client.get(url, HTTP_IF_NONE_MATCH=etag)  # the exact way, which would keep a pass
    monkeypatch.setattr(polls, "list_versions", real)
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 401


def test_a_poll_of_a_changed_list_counts_once(workflow, bob, erin, settings, django_capture_on_commit_callbacks):
    """A poll answered in full after its count was taken with the versions is counted by the
    view only."""
    UserRateThrottle.THROTTLE_RATES = {**UserRateThrottle.THROTTLE_RATES, "user": "4/min"}
    try:
        _, client = token_client(erin)
        url = url_of("workflow", workflow)
        etag = client.get(url)["ETag"]  # 1
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304  # 2, keeps a pass
        with django_capture_on_commit_callbacks(execute=True):
            services.post_message(access(bob, workflow), "news")
        changed = client.get(url, HTTP_IF_NONE_MATCH=etag)  # 3, through the pass, then the view
        assert changed.status_code == 200
        assert client.get(url, HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 304  # 4
        assert client.get(url, HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 429
    finally:
        UserRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def test_the_log_gives_many_groups_their_versions_at_once(workflow, erin, bob, django_capture_on_commit_callbacks):
    groups = [workflow.group, erin.group, "nobody.here"]
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(access(bob, workflow), "news")
    assert versions.log_versions(groups) == [versions.log_version(group) for group in groups]


def test_a_polled_list_must_say_what_its_version_is():
    """A PolledList with neither a group nor a version of its own is refused when it is defined."""
    from project.api import PolledList

    with pytest.raises(TypeError, match="list_group or list_version"):
        type("Unversioned", (PolledList,), {})

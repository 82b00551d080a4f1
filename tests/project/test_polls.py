"""project.polls.UnchangedPolls: an unchanged poll with a bearer token is answered before DRF
with the very 304 the view gives, and never where the view would refuse (each polled list's
routes are covered for revocation and removal by their own polling tests, which run through it)."""

import pytest
from rest_framework.test import APIClient

from project.throttling import UserRateThrottle
from workflows import services

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

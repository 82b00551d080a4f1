"""The version a polled list's ETag is made of (project.realtime.versions): from Redis in
scale-out, written by the publishing process on commit, and from the event log when Redis is
unreachable, so that an outage never yields a wrong 304."""

import pytest
from django.conf import settings
from django.test import override_settings

import project.cache
from project.realtime import versions
from workflows import services
from workflows.access import get_workflow_access

from ..conftest import bearer_client, free_port

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not settings.REDIS_URL, reason="the shared cache is Redis (scale-out mode)"),
]


@pytest.fixture
def workflow(acme, alice, bob):
    return services.create_workflow(acme, alice, "Polled", [(bob.email, "editor")])


@pytest.fixture(autouse=True)
def fresh_cache_warning_clock():
    """The fail-open cache warns at most every 10 s per process (project.cache): the outage
    here must not silence the warning another test looks for."""
    yield
    project.cache._last_warning = 0.0


def dead_redis():
    """The cache pointed at a port nothing listens on."""
    caches = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    return override_settings(CACHES=caches)


def post(alice, workflow, text, capture):
    with capture(execute=True):
        services.post_message(get_workflow_access(alice, workflow.pk), text)


def test_a_poll_reads_the_version_from_redis_written_by_the_publisher(workflow, alice, bob, django_capture_on_commit_callbacks, django_assert_num_queries):
    post(alice, workflow, "one", django_capture_on_commit_callbacks)
    assert versions.list_version(workflow.group).startswith("r")  # the publisher's token
    client, url = bearer_client(bob), f"/api/workflows/{workflow.pk}/messages"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304  # keeps a pass (project.polls)
    with django_assert_num_queries(0):  # the versions are Redis's, the token and access the pass's
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_missing_key_is_read_from_the_log_and_kept_only_if_no_writer_came_first(workflow, alice, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    cache.clear()  # Redis restarted empty
    version = versions.list_version(workflow.group)
    assert version.startswith("d") and versions.list_version(workflow.group) == version
    post(alice, workflow, "one", django_capture_on_commit_callbacks)
    assert versions.list_version(workflow.group) not in (version, None)


def test_redis_unreachable_polls_from_the_event_log_and_never_answers_a_wrong_304(workflow, alice, bob, django_capture_on_commit_callbacks):
    client, url = bearer_client(bob), f"/api/workflows/{workflow.pk}/messages"
    post(alice, workflow, "before the outage", django_capture_on_commit_callbacks)
    before = client.get(url)["ETag"]
    with dead_redis():
        during = client.get(url)
        assert during.status_code == 200  # another version's source: a full page, never a guess
        assert client.get(url, HTTP_IF_NONE_MATCH=during["ETag"]).status_code == 304  # from the log
        post(alice, workflow, "during the outage", django_capture_on_commit_callbacks)  # its bump fails
        changed = client.get(url, HTTP_IF_NONE_MATCH=during["ETag"])
        assert changed.status_code == 200 and changed.json()["results"][-1]["content"] == "during the outage"
    # Redis is back, holding the version from before the post: the failed bump is made good first.
    after = client.get(url, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after.json()["results"][-1]["content"] == "during the outage"
    assert client.get(url, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


def test_a_redis_that_lost_the_bump_script_still_gets_the_new_version(workflow, alice, django_capture_on_commit_callbacks):
    """Redis restarted keeps no script: the bump loads it again, and nothing waits for a retry."""
    post(alice, workflow, "one", django_capture_on_commit_callbacks)
    before = versions.list_version(workflow.group)
    project.cache.redis_client().script_flush()
    post(alice, workflow, "two", django_capture_on_commit_callbacks)
    after = versions.list_version(workflow.group)
    assert after.startswith("r") and after != before and not versions._unbumped

"""The staff page /health/status/: each check's status in words and colours, with "not
configured" and "no bot running" told apart from working."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from project.resilience import breaker
from project.workers.models import WorkerHeartbeat
from project.workers.services import Heartbeat

from .conftest import APP_CHECKS, BUILT_IN_CHECKS

# The checks run in threads with their own connections: rows they must see are committed.
pytestmark = pytest.mark.django_db(transaction=True)


def card(html: str, name: str) -> str:
    """The text of one check's card: its title, verdict and details."""
    pattern = rf'<li class="health-check health-(\w+)">\s*<section aria-labelledby="check-{re.escape(name)}">(.*?)</li>'
    match = re.search(pattern, html, re.S)
    assert match, f"no card for {name}"
    return match.group(1) + " " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(2))).strip()


@pytest.fixture
def page(client, staff):
    client.force_login(staff)

    def get():
        response = client.get("/health/status/")
        assert response.status_code == 200
        return response.content.decode()

    return get


def test_staff_see_every_check_in_words_and_the_page_updates_itself(page):
    html = page()
    # A script that can be paused, not a <meta refresh> (WCAG 2.2.1: timing adjustable).
    assert 'http-equiv="refresh"' not in html
    assert '<div id="health-report" data-refresh-seconds="10">' in html
    assert '<script type="module" src="/static/js/health.js">' in html
    assert 'id="health-pause"' in html
    for name in BUILT_IN_CHECKS | APP_CHECKS:
        assert f'id="check-{name}"' in html
    assert card(html, "database").startswith("good Database Working")
    assert "Response time" in card(html, "database") and " ms" in card(html, "database")
    assert card(html, "channel_layer").startswith("good Real-time messaging Working")
    assert "latency_ms" not in html and "oldest_pending_age_s" not in html  # no raw keys


def test_providers_without_credentials_are_not_configured_rather_than_ok(page, settings):
    spotify = dict(settings.SUBSCRIPTION_PROVIDERS["spotify"], client_id="", client_secret="")
    youtube = dict(settings.SUBSCRIPTION_PROVIDERS["youtube"], client_id="id", client_secret="secret")
    settings.SUBSCRIPTION_PROVIDERS = {**settings.SUBSCRIPTION_PROVIDERS, "spotify": spotify, "youtube": youtube}

    html = page()

    assert card(html, "subscriptions.spotify").startswith("off Spotify Not configured")
    assert "set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET" in card(html, "subscriptions.spotify")
    assert card(html, "subscriptions.youtube").startswith("good YouTube Working")


def test_a_queue_with_no_bot_running_says_so(page):
    html = page()
    assert card(html, "queue").startswith("warn Message queue No bot running")
    assert card(html, "workers").startswith("off Background workers None running")
    summary = html.split('id="check-')[0]
    assert "All systems working" in summary
    assert "Not running or not set up: Background workers (none running), Message queue (no bot running)" in summary

    Heartbeat("poll_subscriptions").beat("idle")
    html = page()
    assert card(html, "queue").startswith("warn Message queue No bot running")
    assert card(html, "workers").startswith("good Background workers Working")

    Heartbeat("queue-bot").beat("idle")
    html = page()
    assert card(html, "queue").startswith("good Message queue Working")
    assert "Bots running 1" in card(html, "queue")


def test_a_bot_that_went_silent_is_no_bot_running(page, settings):
    Heartbeat("queue-bot").beat("idle")
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(seconds=settings.WORKER_STALE_SECONDS + 5))

    html = page()

    assert card(html, "queue").startswith("warn Message queue No bot running")
    assert card(html, "workers").startswith("warn Background workers Degraded")
    assert "stopped beating without stopping" in card(html, "workers")


def test_an_open_breaker_is_explained(page, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    for _ in range(2):
        breaker.before_call("openai")
        breaker.record_failure("openai", "ConnectTimeout")

    html = page()

    assert '<span class="status status-warn" data-status="degraded">Degraded</span>' in html.split('id="check-')[0]
    dependencies = card(html, "dependencies")
    assert dependencies.startswith("warn Outside services Degraded")
    assert "Calls to openai fail fast or are on trial." in dependencies
    assert "openai breaker Open (calls fail fast)" in dependencies
    assert "openai: Last error ConnectTimeout" in dependencies


def test_a_failing_check_is_down_with_its_error(page, extra_check):
    def broken():
        raise ConnectionRefusedError("secret host details")

    extra_check("search_index", broken)

    html = page()

    assert card(html, "search_index").startswith("bad Search index Down")
    assert "The check failed (ConnectionRefusedError)." in card(html, "search_index")
    assert "Down" in html.split('id="check-')[0]


def test_other_users_are_sent_to_the_admin_login(client, alice):
    response = client.get("/health/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(alice)
    response = client.get("/health/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

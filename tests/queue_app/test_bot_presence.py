"""The stream page's "bot online / offline" indicator, from the run_bot heartbeats
(project/workers), and its JSON for queue.js's poll."""

from datetime import timedelta

import pytest
from django.utils import timezone

from project.workers.models import WorkerHeartbeat
from project.workers.services import Heartbeat
from queue_app import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, bob):
    client.force_login(bob)
    return client


def presence(page: str) -> str:
    start = page.index('<p id="bot-presence"')
    return page[start:page.index("</p>", start)]


def test_with_no_bot_running_the_page_says_offline_and_that_messages_wait(browser):
    page = browser.get("/queue/").content.decode()
    assert 'data-online="false"' in presence(page) and "Bot offline" in presence(page)
    assert '<p id="bots-offline" class="message message-warning">' in page  # shown, not hidden
    assert "wait as <em>pending</em> until one starts" in page
    assert "manage.py run_bot" not in page  # that line is for staff
    assert browser.get("/queue/bots/").json() == {"online": False, "bots": 0}


def test_a_beating_bot_is_online(browser):
    Heartbeat("queue-bot").beat("idle")
    page = browser.get("/queue/").content.decode()
    assert 'data-online="true"' in presence(page) and "Bot online" in presence(page)
    assert '<p id="bots-offline" class="message message-warning" hidden>' in page
    assert browser.get("/queue/bots/").json() == {"online": True, "bots": 1}
    Heartbeat("queue-bot-duke").beat("idle")
    assert browser.get("/queue/bots/").json() == {"online": True, "bots": 2}
    assert "Bot online (2)" in presence(browser.get("/queue/").content.decode())


def test_a_stopped_or_silent_bot_is_offline(browser, settings):
    heartbeat = Heartbeat("queue-bot")
    heartbeat.beat("idle")
    heartbeat.stop()
    assert browser.get("/queue/bots/").json()["online"] is False
    settings.WORKER_STALE_SECONDS = 30
    Heartbeat("queue-bot-2").beat("idle")
    WorkerHeartbeat.objects.filter(name="queue-bot-2").update(last_seen=timezone.now() - timedelta(seconds=31))
    assert browser.get("/queue/bots/").json() == {"online": False, "bots": 0}


def test_other_workers_are_not_bots(browser):
    Heartbeat("poll_subscriptions").beat("idle")
    assert services.bot_presence() == {"online": False, "bots": 0}


def test_staff_are_told_how_to_start_a_bot(client, staff):
    client.force_login(staff)
    assert "<code>manage.py run_bot</code>" in client.get("/queue/").content.decode()


def test_the_presence_poll_is_for_signed_in_users_and_only_reads(client, browser):
    response = browser.get("/queue/bots/")
    assert response["Cache-Control"].startswith("max-age=0") and "no-cache" in response["Cache-Control"]
    assert browser.post("/queue/bots/").status_code == 405
    client.logout()
    assert client.get("/queue/bots/").status_code == 302


def test_the_page_polls_no_faster_than_bots_beat(browser, settings):
    settings.WORKER_HEARTBEAT_SECONDS = 2.5
    page = browser.get("/queue/").content.decode()
    assert 'data-bots-url="/queue/bots/"' in page and 'data-bots-poll-ms="2500"' in page

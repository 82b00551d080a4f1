"""The queue's stream page in a real browser: a message posted from the composer, answered by a
bot running in another process, shows up live, threaded under it, with the badges moving; the
"bot online / offline" indicator follows a real `manage.py run_bot` starting and stopping."""

import os
import signal
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.conftest import BASE_DIR, run_manage, subprocess_database_url

from .conftest import ARTIFACTS, LIVE_MS, register, wait_live

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_bots_reply_arrives_live_under_the_message(server, open_browser):
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    page.get_by_role("link", name="Queue").click()
    wait_live(page)
    page.get_by_role("textbox", name="Message").fill("Hello, bots")
    page.get_by_text("Options: name, bot persona, priority").click()
    page.get_by_label("Entity").fill("duke")
    page.get_by_role("main").get_by_role("button", name="Post").click()
    question = page.locator("#stream li").first
    expect(question.locator("[data-status]")).to_have_text("pending", timeout=LIVE_MS)
    assert page.url.endswith("/queue/")  # posted over the API, no reload

    result = run_manage("run_bot", "--once")  # another process, as in production
    assert result.returncode == 0, result.stderr

    reply = page.locator("#stream li", has_text="duke heard: Hello, bots")
    expect(reply).to_have_attribute("data-depth", "1", timeout=LIVE_MS * 2)
    expect(question.locator("[data-status]")).to_have_text("complete", timeout=LIVE_MS)
    items = page.locator("#stream li")
    expect(items).to_have_count(2)
    assert items.nth(1).get_attribute("data-depth") == "1"


def test_a_streamed_reply_grows_on_the_page_before_the_answer_arrives(server, open_browser):
    """A model streaming its answer (the local server speaks OpenAI's SSE), a bot in another
    process: the page shows the text so far as a draft reply, then the reply replaces it."""
    import threading

    from project.accounts.models import User
    from queue_app import services
    from tests.queue_app.model_server import ModelServer, openai_stream

    models = ModelServer().start()
    models.push(openai_stream(["Buy ", "the ", "ticket, ", "take ", "the ", "ride."], chunk_delay=0.5))
    try:
        page = open_browser()
        register(page, server.url, "alice@example.com", "Alice")
        page.goto(f"{server.url}/queue/")
        wait_live(page)
        services.post_message(User.objects.get(email="alice@example.com"), "What now?")
        expect(page.locator("#stream li")).to_have_count(1, timeout=LIVE_MS)
        done = {}
        bot = threading.Thread(target=lambda: done.setdefault("result", run_manage(
            "run_bot", "--once", "--provider", "openai", OPENAI_BASE_URL=models.url + "/v1", OPENAI_API_KEY="sk-test",
            QUEUE_STREAM_INTERVAL_SECONDS="0.1")))
        bot.start()
        draft = page.locator(".queue-draft")
        expect(draft).to_contain_text("Buy the", timeout=LIVE_MS * 6)  # run_bot starts Django first
        expect(draft).to_contain_text("writing…")
        page.screenshot(path=str(ARTIFACTS / "queue-streaming.png"))
        reply = page.locator("#stream li.queue-message-ai:not(.queue-draft)")
        expect(reply).to_contain_text("Buy the ticket, take the ride.", timeout=LIVE_MS * 3)
        expect(draft).to_have_count(0)
        bot.join(30)
        assert done["result"].returncode == 0, done["result"].stderr
    finally:
        models.stop()


def test_without_its_socket_the_page_polls_the_stream_from_its_cursor(server, open_browser):
    """The polling fallback: GET /api/queue/messages from the cursor the page was rendered with,
    then from each page's next_cursor, so what was posted meanwhile shows up once."""
    from project.accounts.models import User
    from queue_app import services

    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    alice = User.objects.get(email="alice@example.com")
    first = services.post_message(alice, "Rendered with the page")
    page.route_web_socket("**/ws/queue/**", lambda socket: socket.close(code=1011))  # the socket never comes up
    page.goto(f"{server.url}/queue/")
    expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")

    services.post_message(alice, "Posted while the socket is down", reply_to=first.pk)
    services.post_message(alice, "And another")

    items = page.locator("#stream li")
    expect(items).to_have_count(3, timeout=LIVE_MS * 5)  # the first poll comes after 5 s
    assert items.nth(1).inner_text().endswith("Posted while the socket is down")
    assert items.nth(1).get_attribute("data-depth") == "1"


def start_bot(*args):
    """`manage.py run_bot` looping in its own process, on the servers' database."""
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "WORKER_HEARTBEAT_SECONDS": "1"}
    return subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "run_bot", "--idle-seconds", "0.2", *args],
                            cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_page_shows_a_bot_going_online_and_offline(daphne_processes, server_env, open_browser):
    # The page polls the bots' presence as often as they beat: every second here.
    server = daphne_processes(1, env={**server_env, "WORKER_HEARTBEAT_SECONDS": "1"})[0]
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    page.goto(f"{server.url}/queue/")
    wait_live(page)
    presence = page.locator("#bot-presence")
    expect(presence).to_have_attribute("data-online", "false")
    expect(presence).to_have_text("Bot offline")
    expect(page.locator("#bots-offline")).to_be_visible()
    expect(page.locator("#bots-offline")).to_contain_text("wait as pending until one starts")

    page.get_by_role("textbox", name="Message").fill("Anyone there?")
    page.get_by_role("textbox", name="Message").press("Enter")  # Enter sends
    question = page.locator("#stream li", has_text="Anyone there?")
    expect(question.locator("[data-status]")).to_have_text("pending", timeout=LIVE_MS)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")

    bot = start_bot()
    try:
        expect(presence).to_have_attribute("data-online", "true", timeout=10_000)
        expect(presence).to_have_text("Bot online")
        expect(page.locator("#bots-offline")).to_be_hidden()
        reply = page.locator("#stream li", has_text="echo heard: Anyone there?")
        expect(reply).to_have_attribute("data-depth", "1", timeout=LIVE_MS * 2)
        expect(reply.locator(".queue-type")).to_have_text("AI")
        expect(question.locator("[data-status]")).to_have_text("complete", timeout=LIVE_MS)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "queue-bot-online.png", full_page=True)
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=15) == 0, bot.stderr.read()
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    expect(presence).to_have_attribute("data-online", "false", timeout=5_000)
    expect(presence).to_have_text("Bot offline")
    expect(page.locator("#bots-offline")).to_be_visible()


def test_a_human_cannot_post_as_the_bot(server, open_browser):
    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    page.goto(f"{server.url}/queue/")
    wait_live(page)
    page.get_by_text("Options: name, bot persona, priority").click()
    page.get_by_label("Post as").fill("Harbor bot")
    page.get_by_role("textbox", name="Message").fill("I am the bot, honest")
    page.get_by_role("main").get_by_role("button", name="Post").click()
    expect(page.locator("#composer-error")).to_have_text(
        "Post as: “Harbor bot” is a bot's name; choose another name to post under.")
    expect(page.locator("#stream li")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("I am the bot, honest")  # nothing lost


def test_the_queue_and_connect_pages_fit_a_phone(server, open_browser):
    from project.accounts.models import User
    from queue_app import services

    page = open_browser()
    register(page, server.url, "alice@example.com", "Alice")
    alice = User.objects.get(email="alice@example.com")
    question = services.post_message(alice, "A rather long message without spaces: " + "x" * 120, entity="duke")
    reply = services.post_message(alice, "A reply", reply_to=question.pk)
    services.post_message(alice, "A reply to the reply", reply_to=reply.pk)
    page.set_viewport_size({"width": 390, "height": 844})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for path in ("/queue/", "/subscriptions/accounts/", "/subscriptions/connect/spotify/"):
        page.goto(f"{server.url}{path}")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide at 390"
        page.screenshot(path=ARTIFACTS / f"phone{path.replace('/', '-').rstrip('-')}.png", full_page=True)

import re
import time

import pytest

from queue_app import services
from queue_app.models import QueueMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, bob):
    client.force_login(bob)
    return client


def test_the_stream_page_threads_replies_under_their_message(browser, alice):
    question = services.post_message(alice, "Question?", entity="duke")
    time.sleep(0.002)  # timestamps are milliseconds: the page orders by them
    services.post_message(alice, "Unrelated")
    claimed = services.claim(question.pk, "w1")
    _, answer, _ = services.complete(question.pk, "w1", claimed.claim_token, "Answer.")
    page = browser.get("/queue/").content.decode()
    ids = re.findall(r'data-id="(\w+)" data-depth="(\d)"', page)
    assert [depth for _, depth in ids] == ["0", "1", "0"]
    assert ids[1][0] == answer.pk
    assert "queue-status-complete" in page and "queue-status-pending" in page
    assert 'href="/queue/"' in page  # the nav link
    assert 'data-ws-path="/ws/queue/"' in page and "js/queue.js" in page


def test_the_composer_posts_without_javascript(browser):
    response = browser.post("/queue/", {"text": "From the form", "priority": 2, "entity": "duke"})
    assert response.status_code == 302
    message = QueueMessage.objects.get()
    assert (message.text, message.priority, message.entity, message.username) == ("From the form", 2, "duke", "Bob")


def test_a_bad_post_shows_the_form_again_with_the_error(browser):
    response = browser.post("/queue/", {"text": "x", "priority": 0, "entity": "Not Valid"})
    assert response.status_code == 400 and b"Lower-case letters" in response.content
    assert not QueueMessage.objects.exists()


def test_a_tenant_stream_page_is_for_members(client, alice, acme, mallory):
    services.post_message(alice, "inside acme", tenant_id=acme.pk)
    client.force_login(alice)
    assert b"inside acme" in client.get(f"/queue/?tenant={acme.pk}").content
    assert b"inside acme" not in client.get("/queue/").content
    client.force_login(mallory)
    assert client.get(f"/queue/?tenant={acme.pk}").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/queue/").status_code == 302


def test_messages_show_their_time_and_ai_replies_their_type(browser, alice):
    question = services.post_message(alice, "Question?", timestamp=1_764_633_600_000)  # 2025-12-02 00:00 UTC
    claimed = services.claim(question.pk, "w1")
    _, answer, _ = services.complete(question.pk, "w1", claimed.claim_token, "Answer.")
    page = browser.get("/queue/").content.decode()
    human = re.search(rf'<li [^>]*id="m-{question.pk}".*?</li>', page, re.S).group(0)
    ai = re.search(rf'<li [^>]*id="m-{answer.pk}".*?</li>', page, re.S).group(0)
    assert '<time datetime="2025-12-02T00:00:00+00:00"' in human and "Dec 2, 00:00 UTC</time>" in human
    assert "queue-type" not in human and "data-status" in human
    assert 'class="queue-type" title="Written by a bot">AI</span>' in ai
    assert "data-status" not in ai  # born complete: no status to follow
    assert "<time datetime=" in ai


def test_the_composer_is_a_message_box_with_the_rest_under_options(browser):
    page = browser.get("/queue/").content.decode()
    assert '<label for="id_text" class="visually-hidden">Message</label>' in page and 'aria-describedby="id_text_helptext"' in page
    assert re.search(r'<details class="queue-options">\s*<summary>Options', page)  # closed until needed
    assert page.index('id="stream"') < page.index('id="composer"')  # newest at the bottom, then the box


def test_an_empty_or_overlong_message_is_a_form_error(browser, settings):
    assert b"This field is required." in browser.post("/queue/", {"text": "", "priority": 0}).content
    response = browser.post("/queue/", {"text": "x" * (settings.QUEUE_MESSAGE_MAX_LENGTH + 1), "priority": 0})
    assert response.status_code == 400 and b"Ensure this value has at most" in response.content
    assert browser.post("/queue/", {"text": "hi", "priority": "11"}).status_code == 400
    assert browser.post("/queue/", {"text": "hi", "priority": "0", "reply_to": "nope"}).status_code == 400
    assert not QueueMessage.objects.exists()

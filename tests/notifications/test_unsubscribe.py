"""The unsubscribe links of a digest, read from the mail a real SMTP server received, followed by
a browser that is not signed in (and refuses to skip CSRF checks), and by a mail provider's
RFC 8058 one-click POST."""

import re
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from notifications import digests
from notifications import services as notifications
from notifications.models import EMAIL_KINDS, DigestSchedule, Kind, Notification
from project.accounts import services as accounts
from tests.project.test_csp import assert_strict

pytestmark = pytest.mark.django_db

SITE = "https://harbor.example.com"


@pytest.fixture
def digest(settings, smtp_server, bob):
    """The digest bob received for a reply and a mention he missed."""
    settings.SITE_URL = SITE
    accounts.verify_email(bob)
    notifications.notify([bob], Kind.QUEUE_REPLY, title="Robot replied to your message", link="/queue/")
    notifications.notify([bob], Kind.SUBSCRIPTIONS_ACCOUNT_ERROR, title="Reconnect your Spotify account")
    missed()
    [received] = smtp_server.messages
    return received


def missed():
    Notification.objects.update(created_at=F("created_at") - timedelta(hours=1))
    call_command("send_digests")
    call_command("send_email")


def path_of(url: str) -> str:
    assert url.startswith(SITE + "/")
    return url[len(SITE):]


def header_link(message) -> str:
    return path_of(message["List-Unsubscribe"].strip()[1:-1])


def body_link(message, label: str) -> str:
    text = next(p.get_content() for p in message.iter_parts() if p.get_content_type() == "text/plain")
    return path_of(re.search(rf"{label}: (\S+)", text).group(1))


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)  # not signed in


def test_the_link_asks_first_and_the_pages_button_unsubscribes_from_every_digest_without_signing_in(digest, browser, bob):
    link = header_link(digest)
    page = browser.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Stop emailing <strong>bob@example.com</strong> about what you missed" in html
    assert '<button type="submit">Unsubscribe</button>' in html
    assert browser.head(link).status_code == 200
    assert all(notifications.emailed_kinds(bob).values())  # a mail scanner's GET or HEAD changes nothing

    done = browser.post(link)
    assert done.status_code == 200
    assert "Harbor will no longer email <strong>bob@example.com</strong>" in done.content.decode()
    assert notifications.emailed_kinds(bob) == {kind: False for kind in EMAIL_KINDS}
    assert all(notifications.enabled_kinds(bob).values())  # still notified in the app
    assert "_auth_user_id" not in browser.session  # nobody was signed in


def test_the_rfc_8058_one_click_post_unsubscribes_and_no_more_digests_come(digest, smtp_server, bob):
    # What a mail provider sends from its own servers: no cookie, no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        header_link(digest), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert notifications.emailed_kinds(bob) == {kind: False for kind in EMAIL_KINDS}

    notifications.notify([bob], Kind.QUEUE_REPLY, title="Another reply", link="/queue/")
    DigestSchedule.objects.update(next_digest_at=F("next_digest_at") - timedelta(days=1))
    missed()
    assert len(smtp_server.messages) == 1


def test_a_kinds_own_link_turns_off_only_that_kind(digest, browser, bob):
    link = body_link(digest, "Stop emails about replies to your queue messages")
    assert "Stop emailing <strong>bob@example.com</strong> about replies to your queue messages?" in browser.get(link).content.decode()
    assert browser.post(link).status_code == 200
    assert notifications.emailed_kinds(bob) == {kind: kind != Kind.QUEUE_REPLY for kind in EMAIL_KINDS}


def test_a_changed_link_says_what_to_do(digest, browser, bob):
    link = header_link(digest)
    broken = link[:-3] + ("x" if link[-3] != "x" else "y") + link[-2:]
    for response in (browser.get(broken), browser.post(broken), browser.get("/notifications/unsubscribe/nonsense/")):
        assert response.status_code == 400
        html = response.content.decode()
        assert "This link no longer works" in html and "check that the whole address was copied" in html
        assert "/accounts/login/?next=/notifications/preferences/" in html
    assert all(notifications.emailed_kinds(bob).values())


def test_an_expired_link_says_so(monkeypatch, settings, browser, bob):
    settings.SITE_URL = SITE
    now = time.time()
    monkeypatch.setattr("django.core.signing.time.time", lambda: now - digests.UNSUBSCRIBE_MAX_AGE.total_seconds() - 60)
    link = path_of(digests.unsubscribe_url(bob))
    monkeypatch.undo()
    response = browser.post(link)
    assert response.status_code == 400
    assert "This unsubscribe link has expired" in response.content.decode()
    assert all(notifications.emailed_kinds(bob).values())


def test_a_link_of_a_deleted_account_works_no_more(settings, browser, bob):
    settings.SITE_URL = SITE
    link = path_of(digests.unsubscribe_url(bob, Kind.WORKFLOW_MENTION))
    bob.delete()
    assert browser.post(link).status_code == 400


def test_the_page_is_as_strict_as_every_other(settings, client, bob):
    settings.SITE_URL = SITE
    assert_strict(client.get(path_of(digests.unsubscribe_url(bob))))

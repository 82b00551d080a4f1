"""Email for what a person missed: `send_digests` writes one digest per person and period to the
outbox, `send_email` delivers it to a real SMTP server on 127.0.0.1 (tests/smtp.py).

Bob is a verified Acme member. Alice adds him to a workflow and mentions him there, a bot answers
his queue message, and his Spotify account needs reconnecting: four things he can miss."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from notifications import digests
from notifications import services as notifications
from notifications.models import DigestSchedule, EmailState, Kind, Notification
from project.accounts import services as accounts
from project.mail.models import BouncedAddress, OutgoingEmail
from project.workers.models import WorkerHeartbeat
from queue_app import services as queue
from subscriptions import services as subscriptions
from subscriptions.models import ProviderAccount
from tests.conftest import BASE_DIR, PASSWORD, subprocess_database_url
from workflows import reading
from workflows import services as workflows
from workflows.access import get_workflow_access

pytestmark = pytest.mark.django_db

SITE = "https://harbor.example.com"


@pytest.fixture(autouse=True)
def digest_settings(settings):
    settings.SITE_URL = SITE
    settings.EMAIL_DIGEST_DELAY = timedelta(minutes=15)
    settings.EMAIL_DIGEST_PERIOD = timedelta(hours=1)


@pytest.fixture
def verified_bob(bob):
    accounts.verify_email(bob)
    return bob


@pytest.fixture
def workflow(acme, alice, verified_bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # workflows notify after the commit
        return workflows.create_workflow(acme, alice, "Launch plan", [(verified_bob.email, "editor")])


def mention_bob(alice, workflow, django_capture_on_commit_callbacks, text="@**Bob** can you review?"):
    with django_capture_on_commit_callbacks(execute=True):
        return workflows.post_message(get_workflow_access(alice, workflow.pk), text)


def bot_answers(bob, text="The answer is forty-two"):
    question = queue.post_message(bob, "What is the answer?")
    queue.make_bot(accounts.register_user("robot@example.com", PASSWORD, display_name="Robot"))
    claimed = queue.claim(question.pk, "w1")
    queue.complete(claimed.pk, "w1", claimed.claim_token, reply=text, username="Robot")
    return question


def account_needs_reconnecting(bob):
    account = ProviderAccount.objects.create(user=bob, provider="spotify", external_id="bob-spotify")
    subscriptions.mark_needs_reauth(account, "The refresh token was refused.")
    return account


def age(minutes: float) -> None:
    """Let time pass for everything raised so far."""
    Notification.objects.update(created_at=F("created_at") - timedelta(minutes=minutes))


def next_period() -> None:
    DigestSchedule.objects.update(next_digest_at=timezone.now() - timedelta(seconds=1))


def deliver(smtp_server) -> list:
    before = len(smtp_server.messages)
    call_command("send_digests")
    call_command("send_email")
    return smtp_server.messages[before:]


def parts(message) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.iter_parts()}


def test_one_digest_batches_what_bob_missed_grouped_by_kind_with_links_and_unsubscribe_headers(
    smtp_server, alice, verified_bob, workflow, django_capture_on_commit_callbacks
):
    said = mention_bob(alice, workflow, django_capture_on_commit_callbacks)
    bot_answers(verified_bob)
    account_needs_reconnecting(verified_bob)
    assert Notification.objects.filter(recipient=verified_bob, email_state=EmailState.WAITING).count() == 4

    assert deliver(smtp_server) == []  # not missed yet: he may still see them in the app
    age(16)
    [received] = deliver(smtp_server)

    assert received["To"] == verified_bob.email
    assert received["Subject"] == "4 things you missed on Harbor"
    assert received.get_content_type() == "multipart/alternative"
    text, html = parts(received)["text/plain"], parts(received)["text/html"]
    for heading in ("Mentions", "Added to a workflow", "Replies to your messages", "Accounts to reconnect"):
        assert heading in html and heading.upper() in text
    assert text.index("MENTIONS") < text.index("ADDED TO A WORKFLOW") < text.index("REPLIES") < text.index("ACCOUNTS")
    assert "Alice mentioned you in “Launch plan”" in text and "@**Bob** can you review?" in text
    assert "Robot replied to your message" in text and "The answer is forty-two" in text
    assert "Reconnect your Spotify account" in text
    assert f"{SITE}/workflows/{workflow.pk}/" in text and f'href="{SITE}/workflows/{workflow.pk}/"' in html
    assert f"{SITE}/subscriptions/accounts/" in text
    assert "more than 15 minutes" in text
    # RFC 8058: one-click unsubscribe from every digest, an https link and the POST it takes.
    unsubscribe = received["List-Unsubscribe"].strip()  # folded: the address is longer than a line
    assert unsubscribe.startswith(f"<{SITE}/notifications/unsubscribe/") and unsubscribe.endswith("/>")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Auto-Submitted"] == "auto-generated"
    assert unsubscribe[1:-1] in text and unsubscribe[1:-1] in html
    assert f"{SITE}/notifications/preferences/" in text

    assert set(Notification.objects.filter(recipient=verified_bob).values_list("email_state", flat=True)) == {EmailState.EMAILED}
    assert DigestSchedule.objects.get(user=verified_bob).last_message_id == received["Message-ID"]
    assert said.pk  # the mention quoted is that message's


def test_nothing_is_emailed_for_what_was_seen_in_the_app_before_the_delay(
    smtp_server, alice, verified_bob, workflow, django_capture_on_commit_callbacks
):
    said = mention_bob(alice, workflow, django_capture_on_commit_callbacks)
    bot_answers(verified_bob)
    # Bob reads the workflow (his read cursor passes the mention) and the reply's notification.
    reading.update_read_state(get_workflow_access(verified_bob, workflow.pk), last_read_message_id=str(said.pk))
    reply = Notification.objects.get(recipient=verified_bob, kind=Kind.QUEUE_REPLY)
    notifications.mark_read(verified_bob, [reply.pk])
    added = Notification.objects.get(recipient=verified_bob, kind=Kind.WORKFLOW_PARTICIPANT_ADDED)
    notifications.mark_read(verified_bob, [added.pk])
    age(16)

    assert deliver(smtp_server) == []
    assert set(Notification.objects.filter(recipient=verified_bob).values_list("email_state", flat=True)) == {EmailState.SKIPPED}
    assert not DigestSchedule.objects.exists()  # nothing sent: his period is not used up


def test_an_item_is_emailed_once_and_what_comes_later_waits_for_the_next_period(
    smtp_server, alice, verified_bob, workflow, django_capture_on_commit_callbacks
):
    age(16)
    [first] = deliver(smtp_server)
    assert first["Subject"] == "Alice added you to “Launch plan”"  # one item: its title

    mention_bob(alice, workflow, django_capture_on_commit_callbacks)
    mention_bob(alice, workflow, django_capture_on_commit_callbacks, text="@**Bob** and this one")
    age(16)
    call_command("send_digests")
    assert OutgoingEmail.objects.count() == 1  # at most one digest per period: these wait
    next_period()
    [second] = deliver(smtp_server)
    assert second["Subject"] == "2 things you missed on Harbor"
    text = parts(second)["text/plain"]
    assert "can you review?" in text and "and this one" in text and "added you" not in text
    assert first["Message-ID"] != second["Message-ID"]

    next_period()
    age(120)
    assert deliver(smtp_server) == []  # nothing is emailed twice


def test_preferences_are_respected_by_email_and_in_the_app(
    smtp_server, alice, verified_bob, workflow, django_capture_on_commit_callbacks
):
    notifications.set_email_preferences(verified_bob, {Kind.WORKFLOW_MENTION: False})
    notifications.set_preferences(verified_bob, {Kind.QUEUE_REPLY: False})  # not even in the app
    mention_bob(alice, workflow, django_capture_on_commit_callbacks)
    bot_answers(verified_bob)
    age(16)
    [received] = deliver(smtp_server)
    text = parts(received)["text/plain"]
    assert "added you" in text and "can you review" not in text and "forty-two" not in text
    assert Notification.objects.get(recipient=verified_bob, kind=Kind.WORKFLOW_MENTION).email_state == EmailState.SKIPPED


def test_turning_email_off_within_the_delay_stops_what_already_waits(smtp_server, verified_bob, workflow):
    notifications.set_email_preferences(verified_bob, {kind: False for kind in notifications.EMAIL_KINDS})
    age(16)
    assert deliver(smtp_server) == []


def test_nobody_is_emailed_at_an_unverified_a_bounced_or_an_inactive_address(
    smtp_server, acme, alice, bob, carol, django_capture_on_commit_callbacks
):
    dave = accounts.register_user("dave@example.com", PASSWORD, display_name="Dave")
    for user in (bob, dave):
        accounts.verify_email(user)
    BouncedAddress.objects.create(email="bob@example.com", reason="550 No such user")
    with django_capture_on_commit_callbacks(execute=True):
        workflows.create_workflow(acme, alice, "Launch plan", [(bob.email, "editor"), (carol.email, "viewer")])
    notifications.notify([dave], Kind.QUEUE_REPLY, title="A bot answered", link="/queue/")
    dave.is_active = False
    dave.save()
    age(16)
    assert deliver(smtp_server) == []  # carol never confirmed her address
    assert Notification.objects.filter(recipient=dave).exists()
    assert set(Notification.objects.values_list("email_state", flat=True)) == {EmailState.SKIPPED}


def test_a_mention_in_a_workflow_one_has_left_is_not_emailed(
    smtp_server, alice, verified_bob, workflow, django_capture_on_commit_callbacks
):
    mention_bob(alice, workflow, django_capture_on_commit_callbacks)
    workflows.remove_participant(get_workflow_access(verified_bob, workflow.pk), verified_bob.email)
    age(16)
    assert deliver(smtp_server) == []


def test_a_reconnected_account_is_not_emailed(smtp_server, verified_bob):
    account = account_needs_reconnecting(verified_bob)
    ProviderAccount.objects.filter(pk=account.pk).update(status=ProviderAccount.Status.ACTIVE)
    age(16)
    assert deliver(smtp_server) == []


def test_kinds_a_person_cannot_miss_are_never_emailed(smtp_server, verified_bob):
    notifications.notify([verified_bob], Kind.SUBSCRIPTIONS_NEW_ITEMS, title="3 new items in your feed")
    assert Notification.objects.get().email_state == EmailState.NONE
    age(60 * 24)
    assert deliver(smtp_server) == []


def test_a_digest_costs_the_same_queries_for_one_item_or_twenty(smtp_server, verified_bob, django_assert_max_num_queries):
    counts = []
    for batch in (1, 20):
        for n in range(batch):
            notifications.notify([verified_bob], Kind.QUEUE_REPLY, title=f"Reply {n} of {batch}", link="/queue/")
        age(16)
        next_period()
        with django_assert_max_num_queries(16) as captured:
            run = digests.send_due_digests()
        assert (run.digests, run.emailed, run.skipped) == (1, batch, 0)
        counts.append(len(captured))
    assert counts[0] == counts[1]
    call_command("send_email")
    assert len(smtp_server.messages) == 2 and "Reply 19 of 20" in parts(smtp_server.messages[1])["text/plain"]


def test_bad_arguments_are_refused(db):
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("send_digests", "--batch-size", "0")


@pytest.mark.django_db(transaction=True)
def test_the_loop_writes_the_digest_beats_and_stops_on_sigterm(smtp_server, verified_bob):
    notifications.notify([verified_bob], Kind.QUEUE_REPLY, title="A bot answered", link="/queue/")
    age(16)
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "SITE_URL": SITE}
    worker = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "send_digests", "--loop"], cwd=BASE_DIR,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not OutgoingEmail.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert WorkerHeartbeat.objects.filter(name="send_digests").exists()
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=10)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "Sent 1 digest (1 items)" in out and "Stopped." in out
    assert WorkerHeartbeat.objects.get(name="send_digests").state == "stopped"
    call_command("send_email")
    [received] = smtp_server.messages
    assert received["Subject"] == "A bot answered" and received["List-Unsubscribe"].strip().startswith(f"<{SITE}/")


@pytest.mark.django_db(transaction=True)
def test_workers_side_by_side_send_each_person_one_digest(smtp_server):
    import threading

    from django.db import connection

    people = []
    for n in range(8):
        person = accounts.register_user(f"person{n}@example.com", PASSWORD)
        accounts.verify_email(person)
        people.append(person)
        for item in range(3):
            notifications.notify([person], Kind.QUEUE_REPLY, title=f"Reply {item} to person {n}", link="/queue/")
    age(16)
    totals = []

    def worker():
        sent = 0
        for _ in range(50):  # bounded: a worker that failed on everyone would loop forever
            run = digests.send_due_digests(limit=2)
            sent += run.digests
            if not run.people:
                break
        totals.append(sent)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(totals) == 8
    call_command("send_email")
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(p.email for p in people)
    assert all(m["Subject"] == "3 things you missed on Harbor" for m in smtp_server.messages)

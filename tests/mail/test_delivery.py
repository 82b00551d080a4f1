"""The outbox and its worker, against a real SMTP server on 127.0.0.1 (tests/smtp.py)."""

import signal
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from project.mail import delivery
from project.mail.models import BouncedAddress, OutgoingEmail
from project.resilience.models import DependencyState
from project.workers.models import WorkerHeartbeat
from tests.conftest import BASE_DIR, subprocess_database_url

pytestmark = pytest.mark.django_db


def send(to="ann@example.com", subject="Hello", **extra):
    return mail.send_mail(subject, "Plain text body", None, [to], html_message="<p>HTML body</p>", **extra)


def make_due():
    OutgoingEmail.objects.update(next_attempt_at=timezone.now())


def test_mail_sent_in_a_change_waits_in_the_outbox_until_the_worker_delivers_it_over_smtp(smtp_server, capsys):
    with transaction.atomic():
        assert send() == 1
    assert smtp_server.messages == []  # nothing left during the request
    row = OutgoingEmail.objects.get()
    assert row.status == OutgoingEmail.Status.PENDING

    call_command("send_email")

    assert "Sent 1" in capsys.readouterr().out
    [received] = smtp_server.messages
    assert received["To"] == "ann@example.com"
    assert received["Subject"] == "Hello"
    assert received["Message-ID"] == row.message_id
    assert received.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in received.iter_parts()}
    assert parts["text/plain"].strip() == "Plain text body"
    assert parts["text/html"].strip() == "<p>HTML body</p>"
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT and row.sent_at is not None and row.attempts == 1


def test_a_rolled_back_change_sends_nothing(smtp_server):
    with pytest.raises(RuntimeError), transaction.atomic():
        send()
        raise RuntimeError("the change failed")
    call_command("send_email")
    assert OutgoingEmail.objects.count() == 0 and smtp_server.messages == []


def test_when_the_server_is_down_the_email_waits_and_is_sent_once_when_it_is_back(smtp_server):
    send()
    smtp_server.stop()
    run = delivery.deliver_due()
    assert (run.sent, run.retrying) == (0, 1)
    row = OutgoingEmail.objects.get()
    assert row.status == OutgoingEmail.Status.PENDING and row.attempts == 1
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=10)  # backoff, not at once
    assert "Connection refused" in row.last_error or "ConnectionRefusedError" in row.last_error
    assert delivery.deliver_due().sent == 0  # not due yet

    smtp_server.start()
    make_due()
    assert delivery.deliver_due().sent == 1
    assert delivery.deliver_due().sent == 0
    make_due()
    assert delivery.deliver_due().sent == 0  # sent is final
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["Message-ID"] == row.message_id


def test_a_temporary_refusal_is_retried_later(smtp_server):
    send()
    smtp_server.refuse_recipients("451 4.3.0 Mailbox busy, try later")
    assert delivery.deliver_due().retrying == 1
    row = OutgoingEmail.objects.get()
    assert row.status == OutgoingEmail.Status.PENDING and "451" in row.last_error

    smtp_server.refuse_recipients(None)
    make_due()
    assert delivery.deliver_due().sent == 1
    assert len(smtp_server.messages) == 1


def test_a_permanent_refusal_is_recorded_and_that_address_is_not_mailed_again(smtp_server):
    send("gone@example.com")
    send("ann@example.com")
    smtp_server.refuse_recipients("550 5.1.1 No such user here")
    run = delivery.deliver_due()
    assert (run.sent, run.failed, run.retrying) == (0, 2, 0)
    gone = OutgoingEmail.objects.get(to=["gone@example.com"])
    assert gone.status == OutgoingEmail.Status.FAILED and "550" in gone.last_error
    assert BouncedAddress.objects.filter(email="gone@example.com").exists()

    smtp_server.refuse_recipients(None)
    make_due()
    assert delivery.deliver_due().sent == 0  # not retried
    send("Gone@Example.com")  # a later email to the address is not even attempted
    assert OutgoingEmail.objects.filter(status=OutgoingEmail.Status.FAILED).count() == 3
    assert delivery.deliver_due().sent == 0
    assert smtp_server.messages == []


def test_an_email_that_keeps_failing_is_given_up_after_the_window(smtp_server, settings):
    send()
    OutgoingEmail.objects.update(created_at=timezone.now() - timedelta(seconds=settings.EMAIL_GIVE_UP_SECONDS + 1))
    smtp_server.stop()
    assert delivery.deliver_due().failed == 1
    row = OutgoingEmail.objects.get()
    assert row.status == OutgoingEmail.Status.FAILED and row.last_error.startswith("Gave up after 1 attempts")


def test_an_open_breaker_defers_mail_without_counting_attempts(smtp_server, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    for _ in range(3):
        send()
    smtp_server.stop()
    delivery.deliver_due(limit=1)
    make_due()
    delivery.deliver_due(limit=1)
    assert DependencyState.objects.get(name=delivery.DEPENDENCY).state == "open"
    attempts = sorted(OutgoingEmail.objects.values_list("attempts", flat=True))
    assert sum(attempts) == 2
    make_due()
    run = delivery.deliver_due()
    assert (run.deferred, run.sent, run.retrying) == (3, 0, 0)
    assert sorted(OutgoingEmail.objects.values_list("attempts", flat=True)) == attempts  # none counted


@pytest.mark.django_db(transaction=True)
def test_workers_side_by_side_send_each_email_exactly_once(smtp_server):
    for index in range(30):
        send(f"user{index}@example.com")
    totals = []

    def worker():
        sent = 0
        while (run := delivery.deliver_due(limit=4)).sent or run.failed:
            sent += run.sent
        totals.append(sent)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(totals) == 30
    received = sorted(message["To"] for message in smtp_server.messages)
    assert received == sorted(f"user{index}@example.com" for index in range(30))
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {OutgoingEmail.Status.SENT}


def test_bad_arguments_are_refused(db):
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("send_email", "--batch-size", "0")


@pytest.mark.django_db(transaction=True)
def test_loop_delivers_beats_and_stops_on_sigterm(smtp_server):
    import os
    import subprocess
    import sys

    send()
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), **smtp_server.env()}
    worker = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "send_email", "--loop"], cwd=BASE_DIR,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(smtp_server.messages) == 1
        assert WorkerHeartbeat.objects.filter(name="send_email").exists()
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=10)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "Sent 1" in out and "Stopped." in out
    assert WorkerHeartbeat.objects.get(name="send_email").state == "stopped"
    assert OutgoingEmail.objects.get().status == OutgoingEmail.Status.SENT


def test_health_says_mail_is_degraded_while_due_email_waits_too_long(settings):
    send()
    assert delivery.mail_health()["status"] == "ok"
    OutgoingEmail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=settings.EMAIL_PENDING_AGE_WARNING_SECONDS + 5))
    report = delivery.mail_health()
    assert report["status"] == "degraded" and report["waiting"] == 1
    call_command("send_email")  # delivered to mail.outbox (the tests' delivery backend)
    assert mail.outbox[0].subject == "Hello"
    assert delivery.mail_health() == {"status": "ok", "waiting": 0, "oldest_waiting_age_s": 0.0, "failed_last_day": 0}

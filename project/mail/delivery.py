"""Delivering the outbox: `manage.py send_email` calls `deliver_due()` (once, or in a loop).

A message is marked sent once the mail server accepted it (its answer to DATA), and only then.
A failure before that — no connection, a timeout, a 4xx — leaves it pending for a later attempt
with exponential backoff, which cannot send it twice because the server never took it. A worker
that dies between the server's acceptance and marking the row would send it again after its
lease: the copy carries the same Message-ID. A permanent refusal (5xx) is recorded and never
retried; a 5xx for the recipient also marks the address bounced. Several workers may run side by
side: each takes its batch under a lease.

The SMTP server is the `smtp` dependency of project.resilience: its circuit breaker stops
attempts while the server is down (waiting messages are deferred, no attempt counted), and
opening the connection is retried a few times within EMAIL_TIMEOUT seconds."""

import logging
import random
import secrets
import smtplib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from project.resilience import breaker
from project.resilience.retry import call_with_retry

from .models import BouncedAddress, OutgoingEmail

logger = logging.getLogger(__name__)

DEPENDENCY = "smtp"
ERROR_MAX = 2000
_random = random.SystemRandom()


@dataclass
class DeliveryRun:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0  # the breaker is open: not attempted, no attempt counted
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"Sent {self.sent}, retrying {self.retrying}, failed {self.failed}, deferred {self.deferred}."

    def add(self, other: "DeliveryRun") -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.deferred += other.deferred
        self.errors += other.errors


def is_permanent(error: BaseException) -> bool:
    """A refusal the server will repeat: a 5xx reply. Everything else (no connection, a timeout,
    a dropped connection, a 4xx) may work later."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def claim_due(limit: int) -> list[OutgoingEmail]:
    """Take up to `limit` due messages under a lease of EMAIL_LEASE_SECONDS."""
    now = timezone.now()
    token = secrets.token_hex(16)
    due = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING, next_attempt_at__lte=now).filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    )
    with transaction.atomic():
        # SKIP LOCKED keeps side-by-side workers off each other's rows on PostgreSQL; the
        # UPDATE's own condition decides everywhere (SQLite ignores FOR UPDATE).
        ids = list(
            due.select_for_update(skip_locked=True).order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        due.filter(id__in=ids).update(
            leased_until=now + timedelta(seconds=settings.EMAIL_LEASE_SECONDS), lease_token=token
        )
    return list(OutgoingEmail.objects.filter(lease_token=token, status=OutgoingEmail.Status.PENDING).order_by("id"))


def deliver_due(limit: int | None = None) -> DeliveryRun:
    """Deliver one batch of due messages over one connection."""
    run = DeliveryRun()
    batch = claim_due(limit or settings.EMAIL_BATCH_SIZE)
    if not batch:
        return run
    try:
        trial = breaker.before_call(DEPENDENCY)
    except breaker.CircuitOpen as circuit:
        _release(batch, delay=circuit.retry_in)
        run.deferred = len(batch)
        return run
    connection = get_connection(settings.EMAIL_DELIVERY_BACKEND, fail_silently=False)
    started = time.monotonic()
    try:
        call_with_retry(
            lambda: _open(connection),
            is_retryable=lambda error: not is_permanent(error),
            deadline=settings.EMAIL_TIMEOUT,
            max_attempts=3,
            base=0.2,
            cap=2.0,
        )
    except Exception as error:
        _close(connection)
        _record_failure(error, started, trial)
        for email in batch:
            _retry_later(email, error, run)
        return run
    try:
        for index, email in enumerate(batch):
            try:
                connection.send_messages([as_message(email)])
            except Exception as error:
                if is_permanent(error):
                    _refused(email, error, run)
                    continue
                # The connection may be gone: this one is retried later, the rest wait untouched.
                _record_failure(error, started, trial)
                _retry_later(email, error, run)
                _release(batch[index + 1 :], delay=0)
                return run
            _sent(email, run)
        breaker.record_success(DEPENDENCY, (time.monotonic() - started) * 1000, trial=trial)
    finally:
        _close(connection)
    return run


def _open(connection) -> None:
    # A failed open() may leave a half-made connection (TLS or login failed after the
    # connect): a retry starts from nothing rather than reuse it.
    _close(connection)
    connection.open()


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # the server hung up first: nothing left to close
        pass


def as_message(email: OutgoingEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body,
        from_email=email.from_email,
        to=email.to,
        cc=email.cc,
        bcc=email.bcc,
        reply_to=email.reply_to,
        headers=email.headers,
    )
    for content, mimetype in email.alternatives:
        message.attach_alternative(content, mimetype)
    return message


def _held(email: OutgoingEmail):
    return OutgoingEmail.objects.filter(pk=email.pk, lease_token=email.lease_token, status=OutgoingEmail.Status.PENDING)


def _sent(email: OutgoingEmail, run: DeliveryRun) -> None:
    _held(email).update(
        status=OutgoingEmail.Status.SENT, sent_at=timezone.now(), attempts=email.attempts + 1, leased_until=None,
        last_error="",
    )
    run.sent += 1


def _refused(email: OutgoingEmail, error: BaseException, run: DeliveryRun) -> None:
    reason = _describe(error)
    _held(email).update(
        status=OutgoingEmail.Status.FAILED, attempts=email.attempts + 1, leased_until=None, last_error=reason
    )
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = {parseaddr(address)[1].lower() for address, (code, _) in error.recipients.items() if code >= 500}
        for address in refused:
            BouncedAddress.objects.update_or_create(email=address, defaults={"reason": reason, "bounced_at": timezone.now()})
    logger.warning("email %s refused permanently: %s", email.message_id, reason, extra={"message_id": email.message_id})
    run.failed += 1
    run.errors.append(reason)


def _retry_later(email: OutgoingEmail, error: BaseException, run: DeliveryRun) -> None:
    attempts = email.attempts + 1
    reason = _describe(error)
    now = timezone.now()
    if now - email.created_at > timedelta(seconds=settings.EMAIL_GIVE_UP_SECONDS):
        _held(email).update(
            status=OutgoingEmail.Status.FAILED, attempts=attempts, leased_until=None,
            last_error=f"Gave up after {attempts} attempts: {reason}",
        )
        run.failed += 1
    else:
        _held(email).update(attempts=attempts, next_attempt_at=now + backoff(attempts), leased_until=None, last_error=reason)
        run.retrying += 1
    logger.warning("email %s not sent (attempt %s): %s", email.message_id, attempts, reason, extra={"message_id": email.message_id})
    run.errors.append(reason)


def _release(emails: list[OutgoingEmail], *, delay: float) -> None:
    """Give messages back untouched (not attempted)."""
    if emails:
        OutgoingEmail.objects.filter(pk__in=[e.pk for e in emails], lease_token=emails[0].lease_token).update(
            leased_until=None, next_attempt_at=timezone.now() + timedelta(seconds=delay)
        )


def backoff(attempts: int) -> timedelta:
    """Exponential from EMAIL_RETRY_BASE_SECONDS, capped at EMAIL_RETRY_CAP_SECONDS, with jitter
    so that messages that failed together are not all retried at the same second."""
    ceiling = min(settings.EMAIL_RETRY_CAP_SECONDS, settings.EMAIL_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    return timedelta(seconds=_random.uniform(ceiling / 2, ceiling))


def _record_failure(error: BaseException, started: float, trial: bool) -> None:
    breaker.record_failure(DEPENDENCY, _describe(error), (time.monotonic() - started) * 1000, trial=trial)


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{address}: {code} {_text(reply)}" for address, (code, reply) in error.recipients.items())
    elif isinstance(error, smtplib.SMTPResponseException):
        text = f"{error.smtp_code} {_text(error.smtp_error)}"
    else:
        text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:ERROR_MAX]


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def mail_health() -> dict:
    """For /health: degraded when a due message has waited longer than EMAIL_PENDING_AGE_WARNING_SECONDS
    (no `send_email` worker, or the mail server is refusing it)."""
    now = timezone.now()
    pending = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING)
    oldest = pending.filter(next_attempt_at__lte=now).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    age = round((now - oldest).total_seconds(), 1) if oldest else 0.0
    return {
        "status": "degraded" if age > settings.EMAIL_PENDING_AGE_WARNING_SECONDS else "ok",
        "waiting": pending.count(),
        "oldest_waiting_age_s": age,
        "failed_last_day": OutgoingEmail.objects.filter(
            status=OutgoingEmail.Status.FAILED, created_at__gte=now - timedelta(days=1)
        ).count(),
    }

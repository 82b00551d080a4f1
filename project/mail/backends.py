"""Django's mail API writes to the outbox instead of talking to a mail server.

`EMAIL_BACKEND` is this backend, so everything that sends mail the Django way — Harbor's own
emails, `PasswordResetForm`, `mail_admins` — stores it in the change's transaction (a rolled-back
change sends nothing) and returns at once; `manage.py send_email` delivers it through
`EMAIL_DELIVERY_BACKEND`, the backend `EMAIL_URL` names (SMTP, or the console in development)."""

from email.utils import parseaddr

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import make_msgid

from .models import BouncedAddress, OutgoingEmail


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        rows = [outgoing_email(message) for message in email_messages if message.recipients()]
        if not rows:
            return 0
        bounced = set(
            BouncedAddress.objects.filter(email__in={_address(r) for row in rows for r in row.recipients}).values_list(
                "email", flat=True
            )
        )
        for row in rows:
            if bounced and all(_address(r) in bounced for r in row.recipients):
                row.status = OutgoingEmail.Status.FAILED
                row.last_error = "Not sent: the address bounced permanently before (see Bounced addresses)."
        OutgoingEmail.objects.bulk_create(rows)
        return len(rows)


def outgoing_email(message) -> OutgoingEmail:
    """The outbox row of an `EmailMessage` (or `EmailMultiAlternatives`)."""
    if message.attachments:
        raise ValueError("The outbox does not store attachments; link to the file instead.")
    headers = {str(name): str(value) for name, value in message.extra_headers.items()}
    message_id = next((value for name, value in headers.items() if name.lower() == "message-id"), None)
    if message_id is None:
        message_id = headers["Message-ID"] = make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)
    return OutgoingEmail(
        message_id=message_id,
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(message.to),
        cc=list(message.cc),
        bcc=list(message.bcc),
        reply_to=list(message.reply_to),
        subject=str(message.subject),
        body=str(message.body),
        alternatives=[[str(content), mimetype] for content, mimetype in getattr(message, "alternatives", [])],
        headers=headers,
    )


def _address(recipient: str) -> str:
    return parseaddr(recipient)[1].lower()

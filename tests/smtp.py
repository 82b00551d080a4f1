"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd): it records what it accepted, and
can be told to refuse recipients (`refuse_recipients`) or be stopped and started again."""

import email
import email.policy
import threading

from aiosmtpd.controller import Controller


class RecordingHandler:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        #: An SMTP reply ("550 5.1.1 No such user") for RCPT TO of every recipient, or None.
        self.recipient_reply: str | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.recipient_reply:
            return self.recipient_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int):
        self.port = port
        self.handler = RecordingHandler()
        self.controller = None

    @property
    def messages(self):
        return self.handler.messages

    def start(self):
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def refuse_recipients(self, reply: str | None):
        self.handler.recipient_reply = reply

    def settings(self) -> dict:
        """Settings that deliver to this server, as EMAIL_URL=smtp://127.0.0.1:<port> would."""
        return {
            "EMAIL_DELIVERY_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_TIMEOUT": 5.0,
        }

    def env(self) -> dict:
        return {"EMAIL_URL": f"smtp://127.0.0.1:{self.port}"}

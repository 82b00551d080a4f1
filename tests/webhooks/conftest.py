"""Webhook tests: a real receiver on 127.0.0.1 (tests/webhooks/receiver.py) verifying with the
`standardwebhooks` package, backoffs and windows scaled down through settings."""

import pytest

from project.accounts.models import Membership
from project.webhooks import services

from .receiver import Receiver

#: What the tests allow and shorten; each test may override more through `settings`.
FAST = {
    "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": True,
    "OUTBOUND_ALLOW_HTTP": True,
    "WEBHOOK_RETRY_BASE_SECONDS": 0.05,
    "WEBHOOK_RETRY_CAP_SECONDS": 0.2,
    "WEBHOOK_TIMEOUT_SECONDS": 5.0,
    "WEBHOOK_GAP_GRACE_SECONDS": 1.0,
    "BREAKER_OPEN_SECONDS": 0.3,
}


@pytest.fixture(autouse=True)
def fast_webhooks(settings):
    for name, value in FAST.items():
        setattr(settings, name, value)


@pytest.fixture
def receivers():
    started = []

    def make(secret=None) -> Receiver:
        receiver = Receiver(secret).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def register(user, tenant, receiver: Receiver, **options):
    """An endpoint of `tenant` (registered by `user`, an owner) pointing at `receiver`, whose
    secret the receiver verifies with."""
    membership = Membership.objects.get(user=user, tenant=tenant)
    endpoint, secret = services.create_endpoint(membership, receiver.url, **options)
    receiver.secret = secret
    return endpoint

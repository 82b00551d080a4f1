"""What an endpoint receives: the socket frames' shape (docs/realtime.md), plus the tenant and
the event's time, so a receiver needs nothing from Harbor to file it."""

from django.utils import timezone

from project.realtime.models import Event
from project.serializers import iso_utc


def event_payload(event: Event) -> dict:
    return {**event.as_frame(), "tenant_id": event.tenant_id, "timestamp": iso_utc(event.created_at)}


def truncated_payload(endpoint, cursor: int) -> dict:
    """Events after `cursor` were pruned while the endpoint was paused or disabled: refetch the
    state over the API, deliveries go on from the oldest event still in the log."""
    return {"type": "replay.truncated", "group": f"tenant.{endpoint.tenant_id}", "cursor": cursor,
            "data": {"cursor": cursor}, "tenant_id": endpoint.tenant_id, "timestamp": iso_utc(timezone.now())}


def test_payload(endpoint, user) -> dict:
    return {"type": "webhook.test", "group": f"tenant.{endpoint.tenant_id}", "cursor": None,
            "data": {"endpoint_id": endpoint.pk, "by": user.email}, "tenant_id": endpoint.tenant_id,
            "timestamp": iso_utc(timezone.now())}

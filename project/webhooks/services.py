"""Every write to a tenant's webhook endpoints, for the API, the pages, the admin and the tests.

Services take models and raise errors keyed by field (Django's ValidationError), PermissionDenied
for a role that may not, and `Conflict` for a state that does not allow the change."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from project.accounts.models import Membership
from project.accounts.services import Conflict
from project.realtime.events import WEBHOOK_EVENT_FAMILIES, WEBHOOK_EVENT_TYPES, may_leave_harbor
from project.realtime.models import Event
from project.resilience.outbound import OutboundAddressRefused, check_url
from subscriptions import crypto

from . import signing
from .models import Delivery, Endpoint
from .payloads import event_payload, test_payload

#: What an endpoint may subscribe to: every type that may leave Harbor, and `custom.*`.
SUBSCRIBABLE = (*WEBHOOK_EVENT_TYPES, *(f"{prefix}*" for prefix in WEBHOOK_EVENT_FAMILIES))


def require_manager(membership: Membership) -> None:
    if not membership.can_manage_members:
        raise PermissionDenied("Only the tenant's owners and admins manage webhooks.")


def clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        return check_url(url)
    except OutboundAddressRefused as error:
        raise ValidationError({"url": str(error)}) from None


def clean_event_types(event_types) -> list[str]:
    """Each of SUBSCRIBABLE at most once, in the given order; an empty list means all."""
    if not isinstance(event_types, list | tuple) or not all(isinstance(t, str) for t in event_types):
        raise ValidationError({"event_types": "A list of event types."})
    unknown = [t for t in event_types if t not in SUBSCRIBABLE]
    if unknown:
        raise ValidationError({"event_types": f"Not an event type a webhook can receive: {', '.join(unknown)}."})
    return list(dict.fromkeys(event_types))


def wants(endpoint: Endpoint, event_type: str) -> bool:
    if not may_leave_harbor(event_type):
        return False
    if not endpoint.event_types:
        return True
    return event_type in endpoint.event_types or any(
        pattern.endswith("*") and event_type.startswith(pattern[:-1]) for pattern in endpoint.event_types
    )


def latest_event_id() -> int:
    return Event.objects.aggregate(latest=Max("id"))["latest"] or 0


def create_endpoint(membership: Membership, url: str, event_types=(), description: str = "") -> tuple[Endpoint, str]:
    """Register an endpoint for the membership's tenant; returns it and its secret, which is
    never shown again. It starts from now: the events already in the log are not sent."""
    require_manager(membership)
    url = clean_url(url)
    event_types = clean_event_types(list(event_types))
    secret = signing.new_secret()
    with transaction.atomic():
        if Endpoint.objects.filter(tenant=membership.tenant_id).count() >= settings.WEBHOOK_MAX_ENDPOINTS_PER_TENANT:
            raise ValidationError({"url": f"A tenant has at most {settings.WEBHOOK_MAX_ENDPOINTS_PER_TENANT} webhook endpoints."})
        endpoint = Endpoint.objects.create(
            tenant_id=membership.tenant_id,
            url=url,
            description=description.strip(),
            event_types=event_types,
            secret=crypto.encrypt(secret),
            cursor=latest_event_id(),
            created_by=membership.user,
        )
    return endpoint, secret


def update_endpoint(membership: Membership, endpoint: Endpoint, **changes) -> Endpoint:
    """Change `url`, `description`, `event_types` or `status` (`active` resumes a paused or
    disabled endpoint from its cursor, `paused` stops it); only what is given."""
    require_manager(membership)
    _same_tenant(membership, endpoint)
    now = timezone.now()
    values = {"updated_at": now}
    if "url" in changes:
        values["url"] = clean_url(changes["url"])
    if "description" in changes:
        values["description"] = (changes["description"] or "").strip()
    if "event_types" in changes:
        values["event_types"] = clean_event_types(changes["event_types"])
    if "status" in changes:
        status = changes["status"]
        if status not in (Endpoint.Status.ACTIVE, Endpoint.Status.PAUSED):
            raise ValidationError({"status": "Either active or paused (Harbor alone disables an endpoint)."})
        if status != endpoint.status:
            values["status"] = status
            if status == Endpoint.Status.ACTIVE:
                # A fresh start on the event after the cursor: its give-up window starts again.
                values.update(disabled_reason="", attempts=0, failing_since=None, next_attempt_at=now, last_error="")
    Endpoint.objects.filter(pk=endpoint.pk).update(**values)
    endpoint.refresh_from_db()
    return endpoint


def rotate_secret(membership: Membership, endpoint: Endpoint) -> tuple[Endpoint, str]:
    """A new secret signs from now on; the current one keeps signing too (a second signature)
    for WEBHOOK_SECRET_ROTATION_SECONDS, so receivers can switch without losing a delivery."""
    require_manager(membership)
    _same_tenant(membership, endpoint)
    secret = signing.new_secret()
    now = timezone.now()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(seconds=settings.WEBHOOK_SECRET_ROTATION_SECONDS)
        endpoint.secret = crypto.encrypt(secret)
        endpoint.updated_at = now
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint, secret


def signing_secrets(endpoint: Endpoint, now=None) -> list[str]:
    """The secrets that sign a request now: the current one, and the previous one while valid."""
    now = now or timezone.now()
    keys = [crypto.decrypt(endpoint.secret)]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        keys.append(crypto.decrypt(endpoint.previous_secret))
    return keys


def delete_endpoint(membership: Membership, endpoint: Endpoint) -> None:
    require_manager(membership)
    _same_tenant(membership, endpoint)
    endpoint.delete()


def send_test_event(membership: Membership, endpoint: Endpoint) -> Delivery:
    """Queue a `webhook.test` delivery; deliver_webhooks sends it once, whatever the endpoint's
    status, outside the cursor's order."""
    require_manager(membership)
    _same_tenant(membership, endpoint)
    webhook_id = "test_" + secrets.token_hex(8)
    return Delivery.objects.create(
        endpoint=endpoint, kind=Delivery.Kind.TEST, status=Delivery.Status.PENDING, webhook_id=webhook_id,
        event_type="webhook.test", payload=test_payload(endpoint, membership.user),
    )


def redeliver(membership: Membership, delivery: Delivery) -> Delivery:
    """Queue the same body again with the same `webhook-id` (a receiver that deduplicates by it
    sees the first one only). An event no longer in the log cannot be sent again."""
    require_manager(membership)
    _same_tenant(membership, delivery.endpoint)
    if delivery.kind == Delivery.Kind.EVENT:
        event = Event.objects.filter(pk=delivery.event_id).first()
        if event is None:
            raise Conflict("This event is no longer in the event log (prune_events); it cannot be sent again.")
        payload = event_payload(event)
    elif delivery.payload is not None:
        payload = delivery.payload
    else:
        raise Conflict("This delivery cannot be sent again.")
    return Delivery.objects.create(
        endpoint=delivery.endpoint, kind=Delivery.Kind.REDELIVERY, status=Delivery.Status.PENDING,
        webhook_id=delivery.webhook_id, event_type=delivery.event_type, event_id=delivery.event_id, payload=payload,
    )


def _same_tenant(membership: Membership, endpoint: Endpoint) -> None:
    if endpoint.tenant_id != membership.tenant_id:
        raise PermissionDenied("This endpoint belongs to another tenant.")

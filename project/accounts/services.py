"""Every write to users, tenants, memberships, tokens and tickets goes through here."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from project.realtime.services import AUTH_REVOKED, publish

from .models import ApiToken, Membership, Tenant, User, WsTicket, hash_secret, normalize_email, user_group

Role = Membership.Role
TOKEN_PREFIX = "hbr_"


class Conflict(Exception):
    """The request is valid but clashes with the current state (HTTP 409)."""


def register_user(email: str, password: str, display_name: str = "") -> User:
    """Create a user with their own tenant, which they own."""
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, display_name=display_name)
        create_tenant(user, f"{user.get_short_name()}'s team")
    return user


def create_tenant(owner: User, name: str) -> Tenant:
    with transaction.atomic():
        tenant = Tenant.objects.create(name=name)
        Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    return tenant


def add_member(tenant: Tenant, actor: Membership, email: str, role: str = Role.MEMBER) -> Membership:
    """`actor` is the acting user's membership of `tenant`."""
    _require_manager(actor)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("Only an owner can add another owner.")
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None:
        raise ValidationError({"email": "No Harbor user has this email address."})
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=user, tenant=tenant, role=role)
            _publish_membership(tenant, "tenant.member_added", membership, actor.user)
    except IntegrityError:
        raise Conflict(f"{user.email} is already a member of {tenant.name}.") from None
    return membership


def remove_member(tenant: Tenant, actor: Membership, email: str) -> None:
    """Managers remove members; anyone may leave; a tenant always keeps an owner."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("user")
            .filter(tenant=tenant, user__email=normalize_email(email))
            .first()
        )
        if membership is None:
            raise Membership.DoesNotExist("This address is not a member of the tenant.")
        leaving = membership.user_id == actor.user_id
        if not leaving:
            _require_manager(actor)
            if membership.role == Role.OWNER and actor.role != Role.OWNER:
                raise PermissionDenied("Only an owner can remove an owner.")
        if membership.role == Role.OWNER:
            owners = Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER)
            if owners.count() == 1:
                raise Conflict("A tenant must keep at least one owner.")
        membership.delete()
        _publish_membership(tenant, "tenant.member_removed", membership, actor.user)


def _require_manager(actor: Membership) -> None:
    if not actor.can_manage_members:
        raise PermissionDenied("Only owners and admins manage members.")


def _publish_membership(tenant: Tenant, event_type: str, membership: Membership, actor: User) -> None:
    data = {
        "tenant_id": tenant.pk,
        "user_id": membership.user_id,
        "email": membership.user.email,
        "role": membership.role,
        "by": actor.email,
    }
    publish(tenant.group, event_type, data)
    publish(user_group(membership.user_id), event_type, data)


def issue_api_token(user: User, name: str, expires_in: timedelta | None = None) -> tuple[ApiToken, str]:
    """Return the token row and the raw token, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        key_hash=hash_secret(raw),
        expires_at=timezone.now() + expires_in if expires_in else None,
    )
    return token, raw


def authenticate_api_token(raw: str) -> ApiToken | None:
    now = timezone.now()
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_secret(raw)).first()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    # At most one write a minute per token: last_used_at is for humans, not an audit log.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_api_token(token: ApiToken) -> None:
    """Revoke the token and close the sockets opened with its tickets."""
    with transaction.atomic():
        if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            publish(token.group, AUTH_REVOKED, {"reason": "token_revoked"})
    token.refresh_from_db(fields=["revoked_at"])


def end_session_sockets(session_group: str) -> None:
    """Close the sockets of a browser session that is logging out."""
    publish(session_group, AUTH_REVOKED, {"reason": "logout"})


def issue_ws_ticket(user: User, token: ApiToken | None = None) -> tuple[WsTicket, str]:
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        WsTicket.objects.filter(user=user, expires_at__lte=now).delete()
        ticket = WsTicket.objects.create(
            key_hash=hash_secret(raw),
            user=user,
            token=token,
            expires_at=now + timedelta(seconds=settings.WS_TICKET_TTL),
        )
    return ticket, raw


def redeem_ws_ticket(raw: str) -> tuple[User | None, ApiToken | None]:
    """Single use: the delete's row count decides, so two sockets racing for one ticket
    cannot both win."""
    ticket = (
        WsTicket.objects.select_related("user", "token")
        .filter(key_hash=hash_secret(raw), expires_at__gt=timezone.now())
        .first()
    )
    if ticket is None or WsTicket.objects.filter(pk=ticket.pk).delete()[0] != 1:
        return None, None
    if not ticket.user.is_active or (ticket.token and not ticket.token.is_usable()):
        return None, None
    return ticket.user, ticket.token

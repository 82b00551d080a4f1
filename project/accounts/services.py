"""Every write to users, tenants, memberships, tokens and tickets goes through here."""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from project.mail.services import send_templated
from project.realtime.services import ACCESS_CHANGED, publish

from .access import usable_token
from .models import (
    ApiToken,
    Membership,
    Tenant,
    User,
    WsTicket,
    access_group,
    hash_secret,
    normalize_email,
    session_group,
    user_group,
)
from .serializers import MembershipSerializer
from .tokens import email_verification_token

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


def send_email_verification(user: User, site_url: str) -> None:
    """Email `user` a link that confirms their address; `site_url` is Harbor's own address as the
    user reaches it (`https://harbor.example.com`), which links in emails start with."""
    send_templated(
        user.email,
        "verify_email",
        {
            "user": user,
            "email": user.email,
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": email_verification_token.make_token(user),
            "site_url": site_url.rstrip("/"),
            "site_name": site_url.split("://", 1)[-1].rstrip("/"),
            "timeout_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        },
    )


def verify_email(user: User) -> bool:
    """Mark `user`'s address verified; False when it already was."""
    updated = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
    user.refresh_from_db(fields=["email_verified_at"])
    return bool(updated)


def create_tenant(owner: User, name: str) -> Tenant:
    with transaction.atomic():
        tenant = Tenant.objects.create(name=name)
        Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    return tenant


def add_member(tenant: Tenant, actor: Membership, email: str, role: str = Role.MEMBER) -> Membership:
    """`actor` is the acting user's membership of `tenant`."""
    require_manager(actor)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("Only an owner can add another owner.")
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None:
        raise ValidationError({"email": "No Harbor user has this email address."})
    try:
        with transaction.atomic():
            membership = join_tenant(tenant, user, role, by=actor.user)
    except IntegrityError:
        raise Conflict(f"{user.email} is already a member of {tenant.name}.") from None
    return membership


def join_tenant(tenant: Tenant, user: User, role: str, *, by: User) -> Membership:
    """`user` becomes a member (call in a transaction); `by` is who let them in."""
    membership = Membership.objects.create(user=user, tenant=tenant, role=role)
    _publish_membership(tenant, "tenant_member.added", membership, by)
    return membership


def remove_member(tenant: Tenant, actor: Membership, email: str) -> None:
    """Managers remove members; anyone may leave; a tenant always keeps an owner."""
    with transaction.atomic():
        membership = _locked_membership(tenant, email)
        leaving = membership.user_id == actor.user_id
        if not leaving:
            require_manager(actor)
            if membership.role == Role.OWNER and actor.role != Role.OWNER:
                raise PermissionDenied("Only an owner can remove an owner.")
        if membership.role == Role.OWNER and _is_last_owner(tenant):
            raise Conflict("A tenant must keep at least one owner: make someone else owner first.")
        membership.delete()
        _publish_membership(tenant, "tenant_member.removed", membership, actor.user)
        recheck_user_access(membership.user_id, "membership_ended")


def change_role(tenant: Tenant, actor: Membership, email: str, role: str) -> Membership:
    """Owners change roles; a tenant always keeps an owner. A demoted owner or admin loses what
    only managers see (other people's workflows), so their sockets check their rights again."""
    if actor.role != Role.OWNER:
        raise PermissionDenied("Only an owner can change roles.")
    with transaction.atomic():
        membership = _locked_membership(tenant, email)
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and _is_last_owner(tenant):
            raise Conflict("A tenant must keep at least one owner: make someone else owner first.")
        demoted = _RANK[role] < _RANK[membership.role]
        membership.role = role
        membership.save(update_fields=["role"])
        _publish_membership(tenant, "tenant_member.updated", membership, actor.user)
        if demoted:
            recheck_user_access(membership.user_id, "membership_changed")
    return membership


_RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}


def _locked_membership(tenant: Tenant, email: str) -> Membership:
    """The membership of `email` in `tenant`, locked until the transaction ends."""
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(tenant=tenant, user__email=normalize_email(email))
        .first()
    )
    if membership is None:
        raise Membership.DoesNotExist("This address is not a member of the tenant.")
    return membership


def _is_last_owner(tenant: Tenant) -> bool:
    """Call in a transaction: the owners are locked until it ends."""
    return Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER).count() == 1


def require_manager(actor: Membership) -> None:
    if not actor.can_manage_members:
        raise PermissionDenied("Only owners and admins manage members.")


def _publish_membership(tenant: Tenant, event_type: str, membership: Membership, actor: User) -> None:
    data = {"tenant_id": tenant.pk, "member": MembershipSerializer(membership).data, "by": actor.email}
    publish(tenant.group, event_type, data, tenant=tenant)  # the user's copy is personal: no tenant
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
    token = usable_token(hash_secret(raw), now)
    if token is None:
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
            publish(token.group, ACCESS_CHANGED, {"reason": "token_revoked"})
    token.refresh_from_db(fields=["revoked_at"])


def end_session_sockets(session_key: str) -> None:
    """Close the sockets of a browser session that has logged out (call after the session
    is gone: each socket checks its session again when told)."""
    publish(session_group(session_key), ACCESS_CHANGED, {"reason": "logout"})


def session_logged_out(sender, request, user, **kwargs) -> None:
    """`user_logged_out` receiver (project/accounts/apps.py): every logout goes through
    `django.contrib.auth.logout`, Harbor's page and the admin's alike, so its sockets close
    whichever page logged out. Django sends the signal before it flushes the session, so the
    session is deleted here first: the sockets that check it again must find it gone."""
    session = getattr(request, "session", None)
    session_key = session.session_key if session is not None else None
    if session_key:
        session.delete()
        end_session_sockets(session_key)


def recheck_user_access(user_id: int, reason: str) -> None:
    """Tell every socket of the user, in every process, to check its rights again now: one of
    them ended (a membership, a participation, the password, `is_active`) or began (a new
    participation, which an inbox socket follows). Each socket closes when its own check fails
    and stays open otherwise (project.realtime.consumers)."""
    publish(access_group(user_id), ACCESS_CHANGED, {"reason": reason})


@dataclass(frozen=True)
class SocketCredential:
    """What authenticated a socket, kept so that the socket can be checked again while it is
    open: the user, and the browser session or API token it came through (a ticket carries
    the one it was issued under)."""

    user_id: int
    session_key: str = ""
    token_id: int | None = None

    @property
    def groups(self) -> list[str]:
        """The groups whose `access.changed` events make the socket check itself again."""
        groups = [access_group(self.user_id)]
        if self.session_key:
            groups.append(session_group(self.session_key))
        if self.token_id is not None:
            groups.append(ApiToken(pk=self.token_id).group)
        return groups


def authenticated_user(credential: SocketCredential) -> User | None:
    """The user `credential` still authenticates, or None: the user is gone or inactive, the
    token revoked or expired, the session logged out, expired or from before a password change."""
    return authenticated_users([credential])[credential]


def authenticated_users(credentials: Iterable[SocketCredential]) -> dict[SocketCredential, User | None]:
    """`authenticated_user` of many credentials at once (a process re-checks all its sockets
    in batches: project/realtime/access_sweep.py): one query for their users, one for their
    tokens, one session read per distinct session."""
    credentials = set(credentials)
    users = User.objects.filter(is_active=True).in_bulk({credential.user_id for credential in credentials})
    token_ids = {credential.token_id for credential in credentials if credential.token_id is not None}
    tokens = ApiToken.objects.in_bulk(token_ids) if token_ids else {}
    now = timezone.now()
    sessions: dict[tuple[str, int], bool] = {}
    authenticated = {}
    for credential in credentials:
        user = users.get(credential.user_id)
        if user is not None and credential.token_id is not None:
            token = tokens.get(credential.token_id)
            if token is None or token.user_id != user.pk or not token.is_usable(now):
                user = None
        if user is not None and credential.session_key:
            key = (credential.session_key, user.pk)
            if key not in sessions:
                sessions[key] = session_authenticates(credential.session_key, user)
            if not sessions[key]:
                user = None
        authenticated[credential] = user
    return authenticated


def session_authenticates(session_key: str, user: User) -> bool:
    """Django's own session check (`django.contrib.auth.get_user`) without its side effect:
    it flushes a session whose password hash is stale, which is the HTTP side's business."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if session.get(SESSION_KEY) != str(user.pk):  # also empty when logged out or expired
        return False
    stored = session.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, valid) for valid in hashes)


def issue_ws_ticket(user: User, token: ApiToken | None = None, session_key: str = "") -> tuple[WsTicket, str]:
    """A ticket for one socket, issued under an API token or a browser session (the socket
    then lives only as long as they do)."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        WsTicket.objects.filter(user=user, expires_at__lte=now).delete()
        ticket = WsTicket.objects.create(
            key_hash=hash_secret(raw),
            user=user,
            token=token,
            session_key=session_key or "",
            expires_at=now + timedelta(seconds=settings.WS_TICKET_TTL),
        )
    return ticket, raw


def redeem_ws_ticket(raw: str) -> tuple[User, SocketCredential] | None:
    """The user and credential of a valid ticket, or None. Single use: the delete's row count
    decides, so two sockets racing for one ticket cannot both win."""
    ticket = WsTicket.objects.filter(key_hash=hash_secret(raw), expires_at__gt=timezone.now()).first()
    if ticket is None or WsTicket.objects.filter(pk=ticket.pk).delete()[0] != 1:
        return None
    credential = SocketCredential(ticket.user_id, ticket.session_key, ticket.token_id)
    user = authenticated_user(credential)
    return (user, credential) if user is not None else None

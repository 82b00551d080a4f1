"""Invitations to a tenant: every write to `Invitation` goes through here.

The inviter gets the same answer whether or not the address has a Harbor account; nobody is
added without accepting; accepting from the emailed link also verifies the address (only its
owner could read the link)."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from project.mail.services import send_templated

from . import services
from .models import Invitation, Membership, Tenant, User, hash_secret, normalize_email

Role = Membership.Role


class InvitationClosed(Exception):
    """The invitation was used, revoked or has expired; `reason` says which, for the page."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def invite(tenant: Tenant, actor: Membership, email: str, role: str, site_url: str) -> Invitation:
    """Invite `email` to `tenant` as `role` and email them the link. Inviting an address that
    already has an open invitation sends it again with the new role."""
    services.require_manager(actor)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("Only an owner can invite another owner.")
    email = normalize_email(email)
    if Membership.objects.filter(tenant=tenant, user__email=email).exists():
        raise services.Conflict(f"{email} is already a member of {tenant.name}.")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(
            tenant=tenant, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).first()
        if invitation is None:
            invitation = Invitation(tenant=tenant, email=email)
        invitation.role = role
        invitation.invited_by = actor.user
        try:
            with transaction.atomic():
                _send(invitation, site_url)
        except IntegrityError:  # the same address invited at the same moment from another tab
            raise services.Conflict(f"{email} was just invited; reload the page.") from None
    return invitation


def resend(invitation: Invitation, actor: Membership, site_url: str) -> Invitation:
    """A new link (the old one stops working) and a new expiry."""
    _require_manager_of(invitation, actor)
    if not invitation.is_open:
        raise InvitationClosed(invitation.state)
    with transaction.atomic():
        _send(invitation, site_url)
    return invitation


def revoke(invitation: Invitation, actor: Membership) -> None:
    _require_manager_of(invitation, actor)
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    invitation.refresh_from_db()


def open_invitations(tenant: Tenant):
    return Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True).select_related(
        "invited_by"
    )


def for_token(raw_token: str) -> Invitation:
    """The invitation a link carries, open or not; Invitation.DoesNotExist for a wrong token."""
    return Invitation.objects.select_related("tenant", "invited_by").get(token_hash=hash_secret(raw_token or ""))


def for_user(user: User):
    """Pending invitations to `user`'s address, shown on their home page — only once they have
    verified it: anyone can sign up with someone else's address."""
    if user.email_verified_at is None:
        return Invitation.objects.none()
    return Invitation.objects.filter(
        email=user.email, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("tenant", "invited_by")


def accept(invitation: Invitation, user: User, *, from_link: bool) -> Membership:
    """`user` joins the tenant. From the link (its secret proves the mailbox) the address is
    verified too; from the home page it must be verified already."""
    if user.email != invitation.email:
        raise PermissionDenied(f"This invitation is for {invitation.email}, not {user.email}.")
    if not from_link and user.email_verified_at is None:
        raise PermissionDenied("Confirm your email address first, or use the link in the invitation.")
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_pending:
            raise InvitationClosed(locked.state)
        membership = Membership.objects.filter(tenant=locked.tenant_id, user=user).first()
        if membership is None:
            membership = services.join_tenant(locked.tenant, user, locked.role, by=locked.invited_by or user)
        Invitation.objects.filter(pk=locked.pk).update(accepted_at=timezone.now(), accepted_by=user)
        if from_link:
            services.verify_email(user)
    invitation.refresh_from_db()
    return membership


def sign_up_and_accept(invitation: Invitation, password: str, display_name: str) -> tuple[User, Membership]:
    """A person without an account signs up through the link: the account is created with the
    invited address, verified, and joins the tenant."""
    with transaction.atomic():
        user = services.register_user(invitation.email, password, display_name)
        membership = accept(invitation, user, from_link=True)
    return user, membership


def _send(invitation: Invitation, site_url: str) -> None:
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.token_hash = hash_secret(raw)
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=settings.INVITATION_TTL_DAYS)
    invitation.save()
    inviter = invitation.invited_by
    send_templated(
        invitation.email,
        "invitation",
        {
            "tenant": invitation.tenant,
            "inviter": inviter.get_full_name() if inviter else "A Harbor user",
            "role": invitation.get_role_display().lower(),
            "url": f"{site_url.rstrip('/')}/invitations/{raw}/",
            "site_name": site_url.split("://", 1)[-1].rstrip("/"),
            "days": settings.INVITATION_TTL_DAYS,
        },
    )


def _require_manager_of(invitation: Invitation, actor: Membership) -> None:
    if actor.tenant_id != invitation.tenant_id:
        raise Invitation.DoesNotExist
    services.require_manager(actor)
    if invitation.role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("Only an owner can resend or revoke an invitation to become an owner.")

"""Every write to accounts, subscriptions and schedules goes through here (the poller's claims
and feed inserts live in poller.py)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from notifications.services import notify
from project.accounts.services import Conflict

from . import oauth
from .models import PollSchedule, ProviderAccount, Subscription
from .providers import Provider, get_provider

logger = logging.getLogger(__name__)

LAST_ERROR_MAX = 500


class NeedsReauth(Exception):
    """The account's refresh token was refused (or it has none): the user must connect again."""

    permanent = True


def notify_user(user, kind: str, *, title: str, body: str = "", link: str = "", payload: dict | None = None) -> None:
    """Notify one user (notifications.services.notify). Call inside the change's transaction:
    a rolled-back change notifies nobody."""
    notify([user], kind, title=title, body=body, link=link, payload=payload or {})


# --- Schedules ------------------------------------------------------------------------------

def ensure_schedule(user) -> PollSchedule:
    """The user's schedule, created due now the first time they subscribe."""
    schedule, _ = PollSchedule.objects.get_or_create(
        user=user, defaults={"interval_seconds": settings.SUBSCRIPTIONS_POLL_INTERVAL_SECONDS}
    )
    return schedule


def poll_now(user) -> PollSchedule:
    """Make the user due at once; a run polling them right now keeps its lease."""
    schedule = ensure_schedule(user)
    PollSchedule.objects.filter(pk=schedule.pk).update(next_poll_at=timezone.now())
    schedule.refresh_from_db()
    return schedule


# --- Accounts -------------------------------------------------------------------------------

def start_connect(provider_name: str, redirect_uri: str) -> tuple[str, str, str]:
    """(authorization URL, state, PKCE verifier). Raises ValidationError for an unknown or
    unconfigured provider."""
    provider = _provider(provider_name)
    if not provider.configured:
        raise ValidationError({"provider": f"{provider.label} is not configured on this server."})
    return oauth.authorization_url(provider, redirect_uri)


def complete_connect(user, provider_name: str, callback_url: str, *, state: str, verifier: str,
                     redirect_uri: str) -> ProviderAccount:
    """The OAuth callback: swap the code (state and PKCE checked), read the profile, store the
    account with its tokens encrypted. Raises OAuth2Error, HttpError, CircuitOpen."""
    provider = _provider(provider_name)
    token = oauth.exchange_code(provider, callback_url, state=state, verifier=verifier, redirect_uri=redirect_uri)
    client = provider.api_client()
    try:
        external_id, display_name = provider.fetch_profile(client, token.access_token)
    finally:
        client.close()
    now = timezone.now()
    with transaction.atomic():
        account, _ = ProviderAccount.objects.select_for_update().get_or_create(
            user=user, provider=provider.name, external_id=external_id
        )
        account.display_name = display_name[:255]
        account.scopes = token.scopes or " ".join(provider.config["scopes"])
        account.set_tokens(token.access_token, token.refresh_token or "", token.expires_at)
        account.last_refresh_at = now
        account.status = ProviderAccount.Status.ACTIVE
        account.last_error = ""
        account.updated_at = now
        account.save()
        ensure_schedule(user)
    logger.info("connected %s account %s", provider.name, account.pk, extra={"account": account.pk})
    return account


def disconnect_account(account: ProviderAccount) -> None:
    """Revoke locally: the tokens are erased and nothing is polled; subscriptions and feed stay,
    and connecting the same account again resumes them."""
    ProviderAccount.objects.filter(pk=account.pk).update(
        access_token_encrypted="", refresh_token_encrypted="", expires_at=None,
        status=ProviderAccount.Status.DISABLED, updated_at=timezone.now(),
    )
    account.refresh_from_db()


def _provider(name: str) -> Provider:
    try:
        return get_provider(name)
    except KeyError:
        raise ValidationError({"provider": f"Unknown provider {name!r}."}) from None


def needs_refresh(account: ProviderAccount, now=None) -> bool:
    now = now or timezone.now()
    margin = timedelta(seconds=settings.SUBSCRIPTIONS_REFRESH_MARGIN_SECONDS)
    return account.expires_at is not None and account.expires_at <= now + margin


def fresh_access_token(account: ProviderAccount) -> str:
    """The account's access token, refreshed first when it expires within the margin.

    One refresh per account at a time: the refresh runs holding the account's row lock, and
    re-reads the row after taking it, because another process may have refreshed meanwhile.
    Two concurrent refreshes of a rotating refresh token would make the provider revoke it.
    Raises NeedsReauth (invalid_grant: the account is marked and the user notified), or
    OAuth2Error/HttpError/CircuitOpen for transient trouble (the caller backs off)."""
    if account.status != ProviderAccount.Status.ACTIVE:
        raise NeedsReauth(f"account {account.pk} is {account.status}")
    if not needs_refresh(account):
        return account.access_token
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().get(pk=account.pk)
        if locked.status != ProviderAccount.Status.ACTIVE:
            raise NeedsReauth(f"account {account.pk} is {locked.status}")
        refused = needs_refresh(locked) and not _refresh_locked(locked)
    _copy_token_fields(locked, account)
    if refused:  # raised after the commit, which keeps the needs_reauth mark
        raise NeedsReauth(locked.last_error)
    return account.access_token


def refresh_after_refusal(account: ProviderAccount, refused_token: str) -> str:
    """The provider's API refused `refused_token` (401) before it expired: refresh once before
    asking the user to reconnect. Under the row lock, as fresh_access_token; when another
    process refreshed meanwhile, its token is used. Raises NeedsReauth when the refresh is
    refused (the account is marked), OAuth2Error/HttpError/CircuitOpen for transient trouble."""
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().get(pk=account.pk)
        if locked.status != ProviderAccount.Status.ACTIVE:
            raise NeedsReauth(f"account {account.pk} is {locked.status}")
        refused = locked.access_token == refused_token and not _refresh_locked(locked)
    _copy_token_fields(locked, account)
    if refused:
        raise NeedsReauth(locked.last_error)
    return account.access_token


def _copy_token_fields(source: ProviderAccount, target: ProviderAccount) -> None:
    for name in ("access_token_encrypted", "refresh_token_encrypted", "expires_at", "last_refresh_at", "status",
                 "last_error", "scopes", "updated_at"):
        setattr(target, name, getattr(source, name))


def _refresh_locked(account: ProviderAccount) -> bool:
    """Call while holding the account's row lock, inside the transaction that took it. Returns
    False when the grant was refused (the account is marked needs_reauth: commit, then raise)."""
    provider = get_provider(account.provider)
    refresh_token = account.refresh_token
    try:
        if not refresh_token:
            raise oauth.OAuth2Error(error="invalid_grant", description="no refresh token stored")
        token = oauth.refresh(provider, refresh_token)
    except oauth.OAuth2Error as error:
        if error.error != "invalid_grant":
            raise  # e.g. invalid_client: our configuration, not the user's grant; retried later
        mark_needs_reauth(account, f"The refresh token was refused ({error.error}); connect the account again.")
        return False
    now = timezone.now()
    account.set_tokens(token.access_token, token.refresh_token, token.expires_at)
    account.last_refresh_at = now
    account.updated_at = now
    account.last_error = ""
    account.save(update_fields=["access_token_encrypted", "refresh_token_encrypted", "expires_at",
                                "last_refresh_at", "updated_at", "last_error"])
    logger.info("refreshed the token of %s account %s", account.provider, account.pk,
                extra={"account": account.pk, "provider": account.provider})
    return True


def refresh_expiring_tokens(*, within_seconds: int | None = None, limit: int = 1000) -> dict:
    """`manage.py refresh_tokens`: refresh every active account expiring within the margin.
    Each account is refreshed under its own row lock, so this never races the poller."""
    within = settings.SUBSCRIPTIONS_REFRESH_MARGIN_SECONDS if within_seconds is None else within_seconds
    due = ProviderAccount.objects.filter(
        status=ProviderAccount.Status.ACTIVE, expires_at__lte=timezone.now() + timedelta(seconds=within)
    ).exclude(refresh_token_encrypted="").order_by("expires_at")[:limit]
    counts = {"refreshed": 0, "needs_reauth": 0, "failed": 0}
    for account in due:
        try:
            with transaction.atomic():
                locked = ProviderAccount.objects.select_for_update().get(pk=account.pk)
                if locked.status != ProviderAccount.Status.ACTIVE or locked.expires_at is None \
                        or locked.expires_at > timezone.now() + timedelta(seconds=within):
                    continue  # another process refreshed it (or it was disconnected) meanwhile
                refreshed = _refresh_locked(locked)
            counts["refreshed" if refreshed else "needs_reauth"] += 1
        except Exception:
            counts["failed"] += 1
            logger.exception("could not refresh %s account %s", account.provider, account.pk,
                             extra={"account": account.pk})
    return counts


def mark_needs_reauth(account: ProviderAccount, message: str) -> None:
    """Stop using the account until the user connects it again, and tell them (in the same
    transaction when there is one)."""
    account.status = ProviderAccount.Status.NEEDS_REAUTH
    account.last_error = message[:LAST_ERROR_MAX]
    account.updated_at = timezone.now()
    ProviderAccount.objects.filter(pk=account.pk).update(status=account.status, last_error=account.last_error,
                                                         updated_at=account.updated_at)
    provider = get_provider(account.provider)
    notify_user(
        account.user, "subscriptions.account_error",
        title=f"Reconnect your {provider.label} account",
        body=message,
        link=reverse("subscriptions_accounts"),
        payload={"account": account.pk, "provider": account.provider, "status": account.status},
    )
    logger.warning("%s account %s needs re-authorisation", account.provider, account.pk,
                   extra={"account": account.pk, "provider": account.provider})


# --- Subscriptions --------------------------------------------------------------------------

def add_subscription(account: ProviderAccount, kind: str, external_id: str, title: str = "") -> Subscription:
    """Raises ValidationError for a kind the account's provider cannot poll, Conflict when the
    account already follows it."""
    provider = _provider(account.provider)
    if kind not in provider.kinds:
        raise ValidationError({"kind": f"{provider.label} accounts can follow: {', '.join(provider.kinds)}."})
    try:
        with transaction.atomic():
            subscription = Subscription.objects.create(account=account, kind=kind, external_id=external_id,
                                                       title=title)
    except IntegrityError:
        raise Conflict("This account already follows that.") from None
    ensure_schedule(account.user)
    return subscription


def set_subscription_enabled(subscription: Subscription, enabled: bool) -> Subscription:
    changes = {"enabled": enabled}
    if enabled:
        changes["last_error"] = ""  # a user re-enabling after a permanent error tries again
    Subscription.objects.filter(pk=subscription.pk).update(**changes)
    subscription.refresh_from_db()
    return subscription


def delete_subscription(subscription: Subscription) -> None:
    """Its feed items go with it."""
    subscription.delete()

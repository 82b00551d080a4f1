"""Each tenant brings its own provider: every write to a tenant's provider settings, and what the
bot reads of them (docs/queue.md, "A tenant's own provider").

Keys are encrypted at rest (subscriptions.crypto: MultiFernet over FIELD_ENCRYPTION_KEYS,
re-encrypted by `rotate_token_keys`); nothing here returns or logs a key in clear except
`provider_for()`, which hands it to the SDK. A tenant's base URL passes the outbound-address
guard when saved and again at connect time (guarded_httpx2_client), so "test connection" is no
way to probe the server's network.
"""

import time

from django.core.exceptions import ValidationError
from django.db import transaction

from project.accounts.models import Membership
from project.resilience.outbound import OutboundAddressRefused, check_url
from subscriptions import crypto

from .models import TenantProvider
from .providers import Prompt, ProviderConfig, ProviderError, get_provider

#: How long the bot trusts a tenant's settings it read (a change applies within this).
CACHE_SECONDS = 5.0
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com",
                     "ollama": "http://127.0.0.1:11434/v1"}
KEY_MAX = 500


def _require_owner(membership: Membership) -> None:
    from django.core.exceptions import PermissionDenied

    if membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the tenant's owners set its provider.")


def set_provider(membership: Membership, *, provider: str, model: str, base_url: str = "",
                 api_key: str | None = None) -> TenantProvider:
    """Create or replace the tenant's provider settings. `api_key` None keeps the saved key
    (the form never shows it again), "" removes it. Errors keyed by model field."""
    _require_owner(membership)
    errors = {}
    if provider not in TenantProvider.Name.values:
        errors["provider"] = f"One of {', '.join(TenantProvider.Name.values)}."
    model = (model or "").strip() if isinstance(model, str) else ""
    if not model or len(model) > 100:
        errors["model"] = "The model's name, 1-100 characters."
    base_url = (base_url or "").strip().rstrip("/") if isinstance(base_url, str) else ""
    if base_url:
        try:
            check_url(base_url)
        except OutboundAddressRefused as exc:
            errors["base_url"] = str(exc)
    if api_key is not None and (not isinstance(api_key, str) or len(api_key) > KEY_MAX or any(c.isspace() for c in api_key)):
        errors["api_key_encrypted"] = f"An API key without spaces, at most {KEY_MAX} characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = TenantProvider.objects.select_for_update().filter(tenant=membership.tenant).first() \
            or TenantProvider(tenant=membership.tenant)
        row.provider, row.model, row.base_url, row.updated_by = provider, model, base_url, membership.user
        if api_key is not None:
            row.api_key_encrypted, row.api_key_last4 = crypto.encrypt(api_key), api_key[-4:] if api_key else ""
        if provider != "ollama" and not row.api_key_encrypted:
            raise ValidationError({"api_key_encrypted": "An API key is required for this provider."})
        row.save()
    _cache.clear()
    return row


def remove_provider(membership: Membership) -> None:
    """Back to the server's provider for the tenant's stream."""
    _require_owner(membership)
    TenantProvider.objects.filter(tenant=membership.tenant).delete()
    _cache.clear()


def get_settings(membership: Membership) -> TenantProvider | None:
    _require_owner(membership)
    return TenantProvider.objects.filter(tenant=membership.tenant).first()


def _config(row: TenantProvider) -> tuple[str, ProviderConfig]:
    return row.provider, ProviderConfig(row.base_url or DEFAULT_BASE_URLS[row.provider],
                                        crypto.decrypt(row.api_key_encrypted), row.model, guarded=True)


_cache: dict[str, tuple[float, tuple[str, ProviderConfig] | None]] = {}


def provider_for(tenant_id: str | None) -> tuple[str, ProviderConfig] | None:
    """(provider name, config with the key in clear) for a tenant's stream, or None: the
    server's provider. Read at most every CACHE_SECONDS per tenant and process."""
    if not tenant_id:
        return None
    hit = _cache.get(tenant_id)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    row = TenantProvider.objects.filter(tenant_id=tenant_id).first()
    found = _config(row) if row is not None else None
    _cache[tenant_id] = (time.monotonic(), found)
    return found


def test_connection(membership: Membership) -> dict:
    """One real call with the saved settings: {"ok": true, "reply"} or {"ok": false, "error"}
    with the provider's own words (or the outbound guard's)."""
    row = get_settings(membership)
    if row is None:
        raise ValidationError({"provider": "Save a provider first."})
    name, config = _config(row)
    provider = get_provider(name, config=config)
    try:
        reply = provider.reply(Prompt("Answer in one short sentence.", [], {"text": "Say hello.", "username": "Harbor"}))
        return {"ok": True, "reply": reply[:500], "error": None}
    except ProviderError as exc:
        return {"ok": False, "reply": None, "error": str(exc)[:1000]}
    finally:
        provider.close()


def rotate_keys(batch_size: int = 500) -> int:
    """Re-encrypt every tenant's key with the first of FIELD_ENCRYPTION_KEYS (rotate_token_keys)."""
    rotated, last = 0, ""
    while True:
        with transaction.atomic():
            batch = list(TenantProvider.objects.select_for_update().filter(pk__gt=last).order_by("pk")
                         .only("pk", "api_key_encrypted")[:batch_size])
            if not batch:
                return rotated
            for row in batch:
                row.api_key_encrypted = crypto.rotate(row.api_key_encrypted)
            TenantProvider.objects.bulk_update(batch, ["api_key_encrypted"])
        rotated += len(batch)
        last = batch[-1].pk

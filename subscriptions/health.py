"""One /health check per provider, from the circuit breakers of its API and token endpoint.
Not required: a provider outage delays feeds but Harbor serves on."""

from project.resilience import breaker

from .models import ProviderAccount
from .providers import Provider

STATUS_BY_BREAKER = {"closed": "ok", "half_open": "degraded", "open": "down"}


def provider_check(provider: Provider):
    def check() -> dict:
        names = [provider.name, provider.oauth_dependency]
        states = {name: breaker.snapshot(name) for name in names}
        worst = "ok"
        for state in states.values():
            status = STATUS_BY_BREAKER.get(state["breaker"], "down") if state else "ok"
            if ("ok", "degraded", "down").index(status) > ("ok", "degraded", "down").index(worst):
                worst = status
        return {
            "status": worst,
            # Without OAuth client credentials nobody can connect an account: nothing fails,
            # so the status stays ok, and the status page says "not configured".
            "configured": provider.configured,
            "breakers": {name: state["breaker"] if state else "unused" for name, state in states.items()},
            "last_error_at": max((s["last_error_at"] for s in states.values() if s and s["last_error_at"]),
                                 default=None),
            "accounts_needing_reauth": ProviderAccount.objects.filter(
                provider=provider.name, status=ProviderAccount.Status.NEEDS_REAUTH).count(),
        }

    return check

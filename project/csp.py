"""django-csp's middleware with Harbor's two policy headers built once per process.

Nothing of Harbor's is inline (static/js and static/css hold it all) and no view sets a policy
of its own, so every response carries the same header. django-csp builds it per response,
twice (the policy and the report-only one, each `dataclasses.asdict` + `build_policy`): 46 µs,
6 % of an unchanged poll's CPU (docs/performance.md). A response whose request used a nonce or
whose view set a policy (django-csp's decorators) still gets django-csp's own."""

import http.client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

#: What django-csp's decorators set on a response.
_OWN_POLICY_ATTRIBUTES = (
    "_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro",
)
_DEBUG_EXEMPT_STATUSES = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)

_headers: list[tuple[str, str, tuple[str, ...], str]] | None = None


def _settings_headers() -> list[tuple[str, str, tuple[str, ...], str]]:
    """(header, value, excluded path prefixes, exemption attribute) of the settings' policies."""
    global _headers
    if _headers is None:
        _headers = []
        for header, setting, report_only, exempt in (
            (HEADER, "CONTENT_SECURITY_POLICY", False, "_csp_exempt"),
            (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True, "_csp_exempt_ro"),
        ):
            value = build_policy(report_only=report_only)
            if value:
                prefixes = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
                _headers.append((header, value, prefixes, exempt))
    return _headers


@receiver(setting_changed)
def _forget_headers(setting, **kwargs):
    global _headers
    if setting.startswith("CONTENT_SECURITY_POLICY") or setting == "DEBUG":
        _headers = None


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _OWN_POLICY_ATTRIBUTES
        ):
            return super().process_response(request, response)
        # django-csp's rules, in its order, with the header already built.
        if response.status_code in _DEBUG_EXEMPT_STATUSES and settings.DEBUG:
            return response
        for header, value, excluded_prefixes, exempt in _settings_headers():
            if header not in response and getattr(response, exempt, False) is False and not (
                excluded_prefixes and request.path_info.startswith(excluded_prefixes)
            ):
                response[header] = value
        setattr(request, "csp_nonce", CheckableLazyObject(self._csp_nonce_post_response))
        return response

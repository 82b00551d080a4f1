"""Unchanged polls answered before DRF (issue 17, decision 3).

A client that polls a list (`PolledList`: workflow messages, notifications, the queue stream,
the feed) sends back its last page's ETag as `If-None-Match` and, while nothing changed, gets a
304. Through the whole stack that 304 answered 0.14× a hello-world app's requests per second,
most of it Django's and DRF's own per-request path (URL resolving, the other middleware, DRF's
request, negotiation, exception handling: docs/performance.md, HTTP reads), for an answer that
only needs three facts: who the caller is, whether they may read the list, and its version.

`UnchangedPolls` establishes those three with the same services the view uses and the same
ETag (`project.api.poll_etag`), and answers the 304 itself; whenever it cannot, or the list
changed, the request goes on untouched to the view, which answers it in full (its own
`conditional_get` included). It takes only what it can decide exactly: a GET with
`If-None-Match` and `Authorization: Bearer` (browser sessions go the usual way) to a polled
list's URL, accepting JSON, without `?format=`. Nothing is weaker than the view:

- the token is `authenticate_api_token`'s (a revoked or expired token, an inactive user: the
  view's 401);
- the view's permissions are asked, and the access is the view's own `list_version` (a removed
  member, another tenant's list, a bad query: the view's 404, 403 or 400);
- the view's throttles count every 304 answered here (a throttled client gets the view's 429);
- the host is validated as CommonMiddleware does, and the security middleware before it in
  settings.MIDDLEWARE add their headers.
"""

from django.core.exceptions import DisallowedHost
from django.http import HttpResponseNotModified
from django.urls import Resolver404, resolve
from rest_framework.request import Request

from project.accounts.authentication import BearerTokenAuthentication
from project.accounts.services import authenticate_api_token
from project.api import PolledList, is_unchanged, poll_etag, with_poll_headers
from project.negotiation import PLAIN_ACCEPTS

#: What DRF's JSONRenderer answers; ETags name the media type (project.api.poll_etag).
JSON = "application/json"


class UnchangedPolls:
    """Middleware (after the security headers' and before the session's): see the module."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "GET" and "HTTP_IF_NONE_MATCH" in request.META:
            response = self.not_modified(request)
            if response is not None:
                return response
        return self.get_response(request)

    def not_modified(self, request):
        """The 304 for an unchanged poll, or None to let the view answer."""
        credentials = request.META.get("HTTP_AUTHORIZATION", "").split()
        if (
            len(credentials) != 2 or credentials[0].lower() != "bearer"
            or request.META.get("HTTP_ACCEPT", "*/*") not in PLAIN_ACCEPTS or "format" in request.GET
        ):
            return None
        try:
            match = resolve(request.path_info)
            request.get_host()
        except (Resolver404, DisallowedHost):
            return None
        view_class = getattr(match.func, "cls", None)
        if (
            view_class is None or not issubclass(view_class, PolledList)
            or not any(issubclass(kind, BearerTokenAuthentication) for kind in view_class.authentication_classes)
            or view_class.renderer_classes[0].media_type != JSON
        ):
            return None
        token = authenticate_api_token(credentials[1])
        if token is None:
            return None
        view = view_class(**match.func.view_initkwargs)
        view.setup(request, *match.args, **match.kwargs)
        view.request = api_request = Request(request)
        api_request.user, api_request.auth = token.user, token
        view.format_kwarg = None
        if not all(permission.has_permission(api_request, view) for permission in view.get_permissions()):
            return None
        try:
            etag = poll_etag(request, token.user, view.list_version(), JSON)
        except Exception:  # a 404, 403, 400 (or worse): the view answers it, in full
            return None
        if not is_unchanged(request, etag):
            return None
        if not all(throttle.allow_request(api_request, view) for throttle in view.get_throttles()):
            return None
        return with_poll_headers(HttpResponseNotModified(), etag)

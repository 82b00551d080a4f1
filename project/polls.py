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

**Poll passes.** Establishing the caller and their access took two statements and loaded six
models per poll (on PostgreSQL two of its four round trips). A poll that passed them keeps a
`PollPass` in the process for PASS_SECONDS, under its token's hash and its URL: the user, the
list's group, the counted throttles' keys, and the versions of the two groups whose events
announce that a right of this caller ended, the user's access group (a membership, a
participation, the password, `is_active`: `recheck_user_access`) and the token's (revoked;
tokens are never deleted but with their user, whose deletion rechecks). Those are the events
that close the caller's sockets; every publish moves its group's version after commit
(project.realtime.versions). A later poll reads the list's version and the two versions in one
Redis round trip with the throttles' count (embedded: one statement of the event log and the
process's own counters) and answers from the pass only
while the two are unchanged and the token has not expired; otherwise it takes the exact way
again, which keeps a new pass. The versions are read before the checks that the pass records
are made a second time, so a right that ends while a pass is being made either fails that
check or moves a version the pass keeps: a revoked token or a removed member is refused at
once, as without passes. A pass also lapses after PASS_SECONDS (the socket sweep's backstop),
and a list with no group (the feed) takes the exact way on every poll.
"""

import time
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import DisallowedHost
from django.http import HttpResponseNotModified
from django.urls import Resolver404, resolve
from django.utils import timezone
from rest_framework.request import Request

from project.accounts.authentication import BearerTokenAuthentication
from project.accounts.models import access_group, hash_secret
from project.accounts.services import authenticate_api_token
from project.api import PolledList, is_unchanged, poll_etag, with_poll_headers
from project.negotiation import PLAIN_ACCEPTS
from project.realtime.versions import list_version, list_versions
from project.throttling import PipelinedCount, WindowCounterThrottle

#: What DRF's JSONRenderer answers; ETags name the media type (project.api.poll_etag).
JSON = "application/json"
#: How long a pass serves without the exact checks, at most (a right that ends moves a version
#: at once; this bounds what a lost version bump could let through, and last_used_at's lag).
PASS_SECONDS = 30.0
#: Passes kept per process; the map starts again empty beyond it.
MAX_PASSES = 10_000


@dataclass(frozen=True)
class PollPass:
    """What the exact checks of one (token, URL) established, kept for later polls (module doc)."""

    user: object
    token_expires_at: datetime | None
    list_group: str
    watched_groups: tuple[str, str]
    watched_versions: tuple[str, ...]
    throttles: tuple[tuple[WindowCounterThrottle, str], ...]
    lapses_at: float

    def lapsed(self) -> bool:
        return time.monotonic() >= self.lapses_at or (
            self.token_expires_at is not None and self.token_expires_at <= timezone.now()
        )


#: (token hash, path, query string) → its pass.
_passes: dict[tuple[str, str, str], PollPass] = {}


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
            or request.META.get("HTTP_ACCEPT", "*/*") not in PLAIN_ACCEPTS
            or "format" in request.META.get("QUERY_STRING", "")  # ?format= (or a false alarm: the view answers)
        ):
            return None
        try:
            request.get_host()
        except DisallowedHost:
            return None
        key = (hash_secret(credentials[1]), request.path_info, request.META.get("QUERY_STRING", ""))
        kept = _passes.get(key)
        if kept is None or kept.lapsed():
            return self.checked(request, credentials[1], key)
        return self.passed(request, credentials[1], key, kept)

    def passed(self, request, raw_token: str, key, kept: PollPass):
        """The way with a pass: the versions and the throttles' counts in one round trip."""
        count = PipelinedCount(kept.throttles)
        (version, *watched_versions), counts = list_versions((kept.list_group, *kept.watched_groups), then=count.queue)
        if tuple(watched_versions) != kept.watched_versions:  # a right may have ended
            if counts is not None:
                count.undo()
            _passes.pop(key, None)
            return self.checked(request, raw_token, key)
        etag = poll_etag(request, kept.user, version, JSON)
        if not is_unchanged(request, etag):
            if counts is not None:
                count.undo()  # the view counts it
            return None
        if not (_allowed(kept.throttles) if counts is None else count.allowed(counts)):
            return None
        return with_poll_headers(HttpResponseNotModified(), etag)

    def checked(self, request, raw_token: str, key):
        """The exact way: the token, the view's permissions and access check, its version;
        keeps a pass for the next polls."""
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        view_class = getattr(match.func, "cls", None)
        if (
            view_class is None or not issubclass(view_class, PolledList)
            or not any(issubclass(kind, BearerTokenAuthentication) for kind in view_class.authentication_classes)
            or view_class.renderer_classes[0].media_type != JSON
        ):
            return None
        token = authenticate_api_token(raw_token)
        view = token and _permitted_view(request, match, token)
        if not view:
            return None
        try:
            group = view.list_group()
            version = view.list_version() if group is None else list_version(group)
        except Exception:  # a 404, 403, 400 (or worse): the view answers it, in full
            return None
        counted = _counted_throttles(view)
        if counted is not None and group is not None:
            _keep_pass(request, match, raw_token, key, token, group, counted)
        etag = poll_etag(request, token.user, version, JSON)
        if not is_unchanged(request, etag):
            return None
        if counted is None:
            allowed = all(throttle.allow_request(view.request, view) for throttle in view.get_throttles())
        else:
            allowed = _allowed(counted)
        return with_poll_headers(HttpResponseNotModified(), etag) if allowed else None


def _allowed(counted) -> bool:
    return all(throttle.allow_key(key) for throttle, key in counted)


def _permitted_view(request, match, token):
    """The view of `match` for `token`'s user, set up as DRF would, if its permissions allow."""
    view = match.func.cls(**match.func.view_initkwargs)
    view.setup(request, *match.args, **match.kwargs)
    view.request = api_request = Request(request)
    api_request.user, api_request.auth = token.user, token
    view.format_kwarg = None
    if all(permission.has_permission(api_request, view) for permission in view.get_permissions()):
        return view
    return None


def _counted_throttles(view):
    """(throttle, key) for each of the view's throttles that counts this request, or None if
    one is not a WindowCounterThrottle (counting it needs DRF's request: no pass)."""
    counted = []
    for throttle in view.get_throttles():
        if not isinstance(throttle, WindowCounterThrottle):
            return None
        key = throttle.counted_key(view.request, view)
        if key is not None:
            counted.append((throttle, key))
    return counted


def _keep_pass(request, match, raw_token: str, key, token, group: str, counted) -> None:
    """Read the versions of the rights the checks relied on, then make the checks again, and
    keep what they establish (module doc)."""
    watched = (access_group(token.user_id), token.group)
    watched_versions = tuple(list_versions(watched)[0])
    again = authenticate_api_token(raw_token)
    view = again is not None and again.pk == token.pk and _permitted_view(request, match, again)
    try:
        if not view or view.list_group() != group:
            return
    except Exception:  # the right ended in between: no pass
        return
    if len(_passes) >= MAX_PASSES:
        _passes.clear()
    _passes[key] = PollPass(
        user=again.user, token_expires_at=again.expires_at, list_group=group, watched_groups=watched,
        watched_versions=watched_versions, throttles=tuple(counted), lapses_at=time.monotonic() + PASS_SECONDS,
    )

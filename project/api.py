"""API conventions shared by every app: one error shape and the default pagination.

Every 4xx and 5xx from the API is ``{"error": {"code", "message", "fields"}}``; ``fields`` maps
a request field to its messages (``{}`` when the error is not about a field)."""

import hashlib
import logging
import math
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponseNotModified, JsonResponse, UnreadablePostError
from django.shortcuts import render
from django.utils.http import parse_etags
from django.views import defaults
from rest_framework import exceptions, pagination, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from project.accounts.services import Conflict
from project.parsers import unstorable
from project.realtime.versions import list_version

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail):
    """DRF error details → plain strings, keeping the field structure."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def validated(serializer_class, data, **context) -> dict:
    """`data` checked by `serializer_class`; a ValidationError becomes the 400 naming the fields."""
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    elif isinstance(exc, Conflict):
        exc = ConflictError(str(exc))
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or restarting (or SQLite stayed locked): nothing was written,
        # and the same request can succeed in a moment.
        logger.error("database unavailable", exc_info=exc)
        exc = DatabaseUnavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(error_body("server_error", "Internal server error."), status=500)

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        body = error_body("invalid", "Invalid input.", fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        body = error_body(code, str(exc.detail) if hasattr(exc, "detail") else str(exc))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            # Whole seconds, rounded up, the same in the body and the header (DRF's header
            # rounds down: a client that obeyed it came back a fraction too early).
            body["error"]["retry_after"] = math.ceil(exc.wait)
            response["Retry-After"] = str(body["error"]["retry_after"])
    response.data = body
    return response


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; try again shortly."
    default_code = "unavailable"
    #: Sent as Retry-After by DRF's handler.
    wait = 5


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this server accepts."
    default_code = "too_large"


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class StrictPageSize:
    """A page size out of range or not a number is a 400 naming it, not a silent default."""

    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdecimal() and 1 <= int(raw) <= self.max_page_size):
            raise exceptions.ValidationError({self.page_size_query_param: [f"Must be an integer from 1 to {self.max_page_size}."]})
        return int(raw)


class PageNumberPagination(StrictPageSize, pagination.PageNumberPagination):
    """Numbered pages: only seed 000's routes, whose clients page by number."""

    page_size_query_param = "page_size"

    def get_schema_operation_parameters(self, view):
        bounds = {self.page_query_param: {"minimum": 1}, self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size}}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class CursorPagination(StrictPageSize, pagination.CursorPagination):
    """Harbor's one list envelope: ``{"results": [...], "next_cursor": str | null, "has_more"}``,
    with ``?cursor=<next_cursor>`` and ``?limit=`` (1-200, default 50). Cursors are DRF's opaque
    position tokens. A bad `limit` or `cursor` is a 400 naming it, not a silent default.
    A view orders its list by setting `ordering` on a subclass (a unique field last)."""

    cursor_query_param = "cursor"
    page_size = 50
    page_size_query_param = "limit"
    ordering = "-id"

    def paginate_queryset(self, queryset, request, view=None):
        """Notes the field (or annotation) a position is a value of, for decode_cursor. A view
        whose `paged_rows()` gives the same list as project.sql.IdPagedRows (SQL written once)
        is paged from that instead of its queryset."""
        name = self.get_ordering(request, queryset, view)[0].lstrip("-")
        annotation = queryset.query.annotations.get(name)
        self._position_field = annotation.output_field if annotation is not None else queryset.model._meta.get_field(name)
        paged_rows = getattr(view, "paged_rows", None)
        return super().paginate_queryset(queryset if paged_rows is None else paged_rows(), request, view)

    def decode_cursor(self, request):
        """DRF's decoding, refusing what it would let through: an empty cursor, one that decodes to
        no position (DRF serves the first page), and a position its list's ordering field cannot
        hold (DRF's query fails: a 500)."""
        invalid = exceptions.ValidationError({self.cursor_query_param: ["Invalid cursor: pass back a `next_cursor`."]})
        if request.query_params.get(self.cursor_query_param) == "":
            raise invalid
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid from None
        if cursor is None:
            return None
        if cursor == pagination.Cursor(offset=0, reverse=False, position=None):
            raise invalid
        if cursor.position is not None:
            try:
                self._position_field.run_validators(self._position_field.to_python(cursor.position))
            except DjangoValidationError:
                raise invalid from None
        return cursor

    def get_paginated_response(self, data):
        """`next_cursor` also when there is nothing more yet: on a list in ascending order it
        fetches what is added after the last item (a client polling a stream keeps it), and a
        page with nothing new hands back the cursor it was given."""
        if self.has_next:
            next_cursor = self._token(self.get_next_link())
        elif self.page:
            last = self._get_position_from_instance(self.page[-1], self.ordering)
            next_cursor = self._token(self.encode_cursor(pagination.Cursor(offset=0, reverse=False, position=last)))
        else:
            next_cursor = self.request.query_params.get(self.cursor_query_param) or None
        return Response({"results": data, "next_cursor": next_cursor, "has_more": self.has_next})

    def _token(self, link: str) -> str:
        return parse_qs(urlsplit(link).query)[self.cursor_query_param][0]

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "A `next_cursor` from the previous page.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9+/=]+$"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next_cursor", "has_more"],
            "properties": {
                "results": schema,
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `cursor` for the next page, or later for what was added since.",
                    "example": "cD00MQ==",
                },
                "has_more": {"type": "boolean", "example": False},
            },
        }


#: A polled page is per user and validated on every use: no shared cache may keep it.
POLLED_CACHE_CONTROL = "private, no-cache"
POLLED_VARY = "Authorization, Cookie, Accept"


def conditional_get(request, version: str, respond):
    """A polled list's conditional GET: the page `respond()` builds carries an ETag, and a page
    asked for again with `If-None-Match` answers 304 Not Modified without calling `respond`
    (without reading a row) while `version` has not moved.

    Call it after authentication, throttles and the access check, as every view does (a revoked
    token is a 401, a removed member a 404, never a 304), with the version of everything the
    page shows taken before its rows are read (project.realtime.versions.list_version of the
    group whose events announce every change to the list). project.polls answers most unchanged
    polls the same way before DRF is reached."""
    etag = poll_etag(request, request.user, version, getattr(request, "accepted_media_type", ""))
    response = HttpResponseNotModified() if is_unchanged(request, etag) else respond()
    return with_poll_headers(response, etag)


def poll_etag(request, user, version: str, media_type: str) -> str:
    """The ETag of a polled page: weak (a sender's renamed display name is no change of the
    list), and naming the caller, the exact URL and the media type, so that no other page, user
    or format can match it."""
    raw = f"{version}|{user.pk}|{request.get_full_path()}|{media_type}"
    return f'W/"{hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()}"'


def is_unchanged(request, etag: str) -> bool:
    """Whether the request's If-None-Match names `etag`. `*` is not honoured: only a page that
    was served (never a 400) has an ETag to send back, so a URL with a bad cursor or filter
    always reaches its validation."""
    asked = request.META.get("HTTP_IF_NONE_MATCH")
    return bool(asked) and etag[2:] in {tag.removeprefix("W/") for tag in parse_etags(asked)}


def with_poll_headers(response, etag: str):
    response["ETag"] = etag
    response["Cache-Control"] = POLLED_CACHE_CONTROL
    response["Vary"] = POLLED_VARY
    return response


class PolledList:
    """`conditional_get` for a ListAPIView. The view sets `list_group(self) -> str`: its access
    check, then the group whose events announce every change to the list (project.polls keeps
    what it establishes for later polls); or, for a list that publishes no events,
    `list_version(self) -> str` itself."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.list_group is PolledList.list_group and cls.list_version is PolledList.list_version:
            raise TypeError(f"{cls.__name__} sets list_group or list_version (project.api.PolledList)")

    def list_group(self) -> str | None:
        return None

    def list_version(self) -> str:
        return list_version(self.list_group())

    def list(self, request, *args, **kwargs):
        return conditional_get(request, self.list_version(), lambda: super(PolledList, self).list(request, *args, **kwargs))


def _api_or_page(code: str, message: str, status_code: int, page_view):
    """Django-level error handlers: the JSON error shape under /api/, HTML pages elsewhere."""

    def handler(request, exception=None):
        if request.path.startswith("/api/"):
            return JsonResponse(error_body(code, message), status=status_code)
        return page_view(request) if status_code == 500 else page_view(request, exception)

    return handler


json_400 = _api_or_page("bad_request", "Bad request.", 400, defaults.bad_request)
json_403 = _api_or_page("permission_denied", "Permission denied.", 403, defaults.permission_denied)
json_404 = _api_or_page("not_found", "Not found.", 404, defaults.page_not_found)
json_500 = _api_or_page("server_error", "Internal server error.", 500, defaults.server_error)


FORM_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class RejectUnstorableInput:
    """Middleware: a 400 for what PostgreSQL would refuse with a 500 (a DataError) wherever a
    view put it. A NUL character is never part of a valid Harbor URL or form field, and a lone
    surrogate cannot be stored either.

    The path and query string are checked first. A posted HTML form's fields (names and values,
    never file contents) are checked in process_view: after authentication, so the 400 page that
    names the field has the usual layout, and before the CSRF check, which reads the form
    anyway (so a view that sets its own `request.upload_handlers` would have to be skipped too).
    DRF views are skipped: project.parsers checks their bodies and answers in the API's error
    shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return json_400(request)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.content_type not in FORM_CONTENT_TYPES:
            return None
        view_class = getattr(view_func, "cls", None)
        if view_class is not None and issubclass(view_class, APIView):
            return None
        try:
            fields = list(request.POST.lists())
        except UnreadablePostError:  # the client went away; the CSRF check answers it
            return None
        for name, values in fields:
            if problem := unstorable(name):
                return _unstorable_field(request, None, problem)
            for value in values:
                if problem := unstorable(value):
                    return _unstorable_field(request, name, problem)
        return None


#: The name settings.MIDDLEWARE gives it.
reject_nul_characters = RejectUnstorableInput


def _unstorable_field(request, field: str | None, problem: str):
    """The 400 page saying which field to fix (every /api/ route is a DRF view, skipped above)."""
    return render(request, "400.html", {"field": field, "problem": problem}, status=400)

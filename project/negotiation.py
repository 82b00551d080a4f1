"""DRF's content negotiation, with its most common answer given at once."""

from rest_framework.negotiation import DefaultContentNegotiation

#: Accept headers that pick a view's first renderer when it renders JSON (and none: `*/*`).
PLAIN_ACCEPTS = frozenset({"*/*", "application/json"})


class ContentNegotiation(DefaultContentNegotiation):
    """A request that accepts JSON or anything, without a `?format=`, gets a JSON view's first
    renderer as DRF's own negotiation would give it, without parsing the Accept header into
    media types and ordering them: that was 7 % of an unchanged poll's CPU (docs/performance.md).
    Everything else is DRF's (`tests/project/test_negotiation.py` holds the two to one answer)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and renderers
            and renderers[0].media_type == "application/json"
            and request.META.get("HTTP_ACCEPT", "*/*") in PLAIN_ACCEPTS
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)

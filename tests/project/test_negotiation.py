"""Harbor's content negotiation gives DRF's own answer, 406s and 404s included."""

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from project.negotiation import ContentNegotiation

RENDERER_LISTS = [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()], [StaticHTMLRenderer(), JSONRenderer()]]
ACCEPTS = [None, "", "*/*", "application/json", "application/json; indent=4", "text/html", "application/*",
           "text/html, */*;q=0.1", "image/png", "application/json, text/html", " */*"]


def answer(negotiation, accept, query, renderers, format_suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/api/x", query, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, format_suffix)
    except (exceptions.NotAcceptable, exceptions.NotFound) as refused:
        return type(refused).__name__
    except Exception as refused:  # Http404 from filter_renderers
        return type(refused).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", RENDERER_LISTS)
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", [{}, {"format": "json"}, {"format": "api"}, {"format": "png"}])
@pytest.mark.parametrize("format_suffix", [None, "json"])
def test_it_answers_as_drf_does(renderers, accept, query, format_suffix):
    expected = answer(DefaultContentNegotiation(), accept, query, renderers, format_suffix)
    assert answer(ContentNegotiation(), accept, query, renderers, format_suffix) == expected


@hypothesis_settings(max_examples=300, deadline=None)
@given(accept=st.one_of(st.none(), st.text(alphabet="*/;=, qjsonaplitexh.0123456789", max_size=40)),
       renderers=st.sampled_from(RENDERER_LISTS))
def test_any_accept_header_gets_drfs_answer(accept, renderers):
    expected = answer(DefaultContentNegotiation(), accept, {}, renderers, None)
    assert answer(ContentNegotiation(), accept, {}, renderers, None) == expected


def test_a_plain_api_request_gets_json(alice_api):
    response = alice_api.get("/api/tenants", HTTP_ACCEPT="*/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert alice_api.get("/api/tenants", HTTP_ACCEPT="text/html").status_code == 406

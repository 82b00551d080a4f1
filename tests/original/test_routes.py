"""Harbor's API is resolved before the seeds' routes (project/urls.py): every route a seed names
still reaches its own view, none is shadowed by one of Harbor's."""

import re

from django.urls import URLPattern, resolve
from django.urls.resolvers import RoutePattern

from project.original.urls import urlpatterns


def test_every_seed_route_resolves_to_its_own_view():
    routes = [pattern for pattern in urlpatterns if isinstance(pattern, URLPattern) and isinstance(pattern.pattern, RoutePattern)]
    assert len(routes) >= 10
    for route in routes:
        path = "/" + re.sub(r"<[^>]+>", "abc123", str(route.pattern))
        assert resolve(path).func == route.callback, path

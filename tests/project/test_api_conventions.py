import pytest
from django.test import override_settings
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.views import APIView

from project.accounts import services
from project.accounts.models import Membership
from project.api import CursorPagination

pytestmark = pytest.mark.django_db


class Explodes(APIView):
    permission_classes = []

    def get(self, request):
        raise RuntimeError("secret internals /etc/passwd")


class MembershipNames(generics.ListAPIView):
    """A list in ascending order under the shared envelope, as a stream's would be."""

    class Pagination(CursorPagination):
        ordering = "id"

    pagination_class = Pagination
    serializer_class = type("Serializer", (serializers.Serializer,), {"tenant": serializers.CharField(source="tenant.name")})

    def get_queryset(self):
        return Membership.objects.filter(user=self.request.user).select_related("tenant")


urlpatterns = [path("api/explodes", Explodes.as_view()), path("api/memberships", MembershipNames.as_view())]


def test_an_unknown_api_path_answers_in_the_json_error_shape(alice_api):
    response = alice_api.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_a_wrong_method_answers_405_in_the_error_shape(alice_api):
    response = alice_api.put("/api/tenants", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_non_json_body_is_a_clear_400(alice_api):
    response = alice_api.post("/api/tenants", "{broken", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    response = alice_api.post("/api/tenants", "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


@override_settings(ROOT_URLCONF=__name__)
def test_an_unhandled_error_is_a_500_without_a_traceback(client):
    response = client.get("/api/explodes")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert b"passwd" not in response.content and b"Traceback" not in response.content


def test_the_schema_is_valid_openapi(tmp_path):
    from ..conftest import run_manage

    result = run_manage("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert result.returncode == 0, result.stderr
    schema = (tmp_path / "schema.yml").read_text()
    assert "/api/auth/token" in schema and "/api/tenants/{tenant_id}/members" in schema


def test_the_api_docs_page_is_served_without_a_cdn(client):
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"drf_spectacular_sidecar" in docs.content and b"cdn." not in docs.content
    assert client.get("/api/schema/").status_code == 200


def test_health_reports_the_database(client, settings):
    settings.HEALTH_TOKEN = "monitor-token"  # details (latency) are shown only with the token or to staff
    response = client.get("/health?token=monitor-token")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert "version" in body and "uptime_s" in body


@override_settings(ROOT_URLCONF=__name__)
def test_lists_page_with_an_opaque_cursor_and_hand_one_back_for_what_comes_later(alice, alice_api):
    for n in range(4):
        services.create_tenant(alice, f"T{n}")  # alice also has her own tenant from sign-up

    first = alice_api.get("/api/memberships?limit=3").json()
    assert [row["tenant"] for row in first["results"]] == ["Alice's team", "T0", "T1"]
    assert first["has_more"] is True
    second = alice_api.get(f"/api/memberships?limit=3&cursor={first['next_cursor']}").json()
    assert ([row["tenant"] for row in second["results"]], second["has_more"]) == (["T2", "T3"], False)

    # Nothing more yet: the cursor still says where the list ended...
    empty = alice_api.get(f"/api/memberships?cursor={second['next_cursor']}").json()
    assert empty == {"results": [], "next_cursor": second["next_cursor"], "has_more": False}
    # ...and picks up what was added since.
    services.create_tenant(alice, "T4")
    later = alice_api.get(f"/api/memberships?cursor={empty['next_cursor']}").json()
    assert [row["tenant"] for row in later["results"]] == ["T4"]


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("query, field", [("limit=", "limit"), ("limit=0", "limit"), ("limit=201", "limit"),
                                          ("limit=²", "limit"), ("cursor=bm9wZQ", "cursor"), ("cursor=", "cursor")])
def test_a_bad_limit_or_cursor_is_a_400_naming_it(alice, alice_api, query, field):
    response = alice_api.get(f"/api/memberships?{query}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_every_operation_has_an_area_and_documents_its_errors_in_the_error_shape():
    from drf_spectacular.generators import SchemaGenerator

    from project.openapi import TAGS

    schema = SchemaGenerator().get_schema(request=None, public=True)
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert len(operation["tags"]) == 1 and operation["tags"][0] in TAGS.values(), (method, path)
            responses = operation["responses"]
            for code in ("400", "401", "403", "404", "429", "503"):
                assert responses[code]["content"] == error, (method, path, code)
            if method in ("post", "put", "patch"):
                assert {"409", "413", "415"} <= set(responses), (method, path)
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]

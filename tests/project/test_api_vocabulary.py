"""Harbor's own API speaks one vocabulary (docs/api.md): snake_case fields and parameters, ids
as strings, datetimes as date-times, and every list in the one envelope. Read off the OpenAPI
schema, so a new route is held to it the day it is added. The original clients' routes keep
their seeds' shapes and are exempt."""

import re

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
ENVELOPE = {"results", "next_cursor", "has_more"}

#: (method, path) of the routes the seed documents name (../shared/seeds/): the original
#: clients' package serves them with the seeds' own shapes.
ORIGINAL = {
    ("POST", "/api/comments"),
    ("GET", "/api/comments"),
    ("GET", "/api/queue/pending"),
    ("POST", "/api/queue/claim"),
    ("POST", "/api/queue/complete"),
    ("GET", "/api/workflow"),
    ("POST", "/api/workflow"),
    ("GET", "/api/workflow/{workflow_id}"),
    ("PUT", "/api/workflow/{workflow_id}"),
    ("GET", "/api/workflow/messages"),
    ("POST", "/api/workflow/messages"),
    ("POST", "/workflow/{workflow_id}/notification"),
    ("GET", "/notifications/{email}/check"),
    ("POST", "/notifications/{email}/clear"),
}

@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield (method.upper(), path), operation


def resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def properties(schema, node, seen=None):
    """(name, schema) of every property in `node`, however deep (through refs, items, allOf/oneOf)."""
    seen = set() if seen is None else seen
    if isinstance(node, dict) and "$ref" in node:
        if node["$ref"] in seen:
            return
        seen.add(node["$ref"])
    node = resolve(schema, node)
    if not isinstance(node, dict):
        return
    for name, child in node.get("properties", {}).items():
        if "x-keys" not in node:  # a map whose keys are data (notification kinds), not fields
            yield name, child
        yield from properties(schema, child, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from properties(schema, node[key], seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for child in node.get(key, []):
            yield from properties(schema, child, seen)


def is_an_id(name: str) -> bool:
    return name == "id" or name.endswith("_id")


def wrong_type(schema, name: str, node) -> str | None:
    """Why the field or parameter `name` breaks the conventions' types, if it does."""
    node = resolve(schema, node) or {}
    kinds = [node] + [resolve(schema, child) for child in node.get("allOf", []) + node.get("anyOf", []) + node.get("oneOf", [])]
    types = {kind.get("type") for kind in kinds if isinstance(kind, dict) and kind.get("type") not in (None, "null")}
    if is_an_id(name) and types - {"string"}:
        return f"{name}: an id that is not a string"
    if name.endswith("_at") and (types - {"string"} or any(kind.get("type") == "string" and kind.get("format") != "date-time" for kind in kinds if isinstance(kind, dict))):
        return f"{name}: a time that is not a date-time"
    return None


def violations(schema, operation) -> list[str]:
    parameters = operation.get("parameters", [])
    found = [f"parameter {p['name']}" for p in parameters if not SNAKE_CASE.match(p["name"])]
    found += [f"parameter {problem}" for p in parameters if (problem := wrong_type(schema, p["name"], p.get("schema")))]
    bodies = [content.get("schema") for content in operation.get("requestBody", {}).get("content", {}).values()]
    for status, response in operation.get("responses", {}).items():
        for content in response.get("content", {}).values():
            body = resolve(schema, content.get("schema"))
            bodies.append(body)
            if status.startswith("2") and isinstance(body, dict):
                if body.get("type") == "array":
                    found.append(f"{status}: a bare list, not the envelope")
                elif "results" in body.get("properties", {}) and set(body["properties"]) != ENVELOPE:
                    found.append(f"{status}: list envelope {sorted(body['properties'])}")
    fields = [(name, node) for body in bodies for name, node in properties(schema, body)]
    found += [f"field {name}" for name, _ in fields if not SNAKE_CASE.match(name)]
    found += [f"field {problem}" for name, node in fields if (problem := wrong_type(schema, name, node))]
    return sorted(set(found))


def test_harbors_own_routes_speak_snake_case_and_list_in_the_envelope(schema):
    broken = {
        f"{method} {path}": problems
        for (method, path), operation in operations(schema)
        if (method, path) not in ORIGINAL and (problems := violations(schema, operation))
    }
    assert broken == {}


def test_only_the_original_clients_routes_are_exempt(schema):
    """The exemption is the original clients' package, no more: a Harbor route cannot hide in it."""
    original = {key for key, operation in operations(schema) if operation["tags"] == ["original clients"]}
    assert original == ORIGINAL


# A route of each kind the vocabulary refuses, to show the test above would fail on it.

class CamelMessage(serializers.Serializer):
    id = serializers.IntegerField()
    messageType = serializers.CharField()
    sent_at = serializers.CharField()


class CamelQuery(serializers.Serializer):
    tenantId = serializers.CharField(required=False)


class BareList(generics.ListAPIView):
    serializer_class = CamelMessage
    pagination_class = None

    @extend_schema(parameters=[CamelQuery])
    def get(self, request):
        return super().get(request)


class OwnEnvelope(APIView):
    @extend_schema(responses=inline_serializer("OwnPage", {"results": CamelMessage(many=True), "cursor": serializers.CharField()}))
    def get(self, request):
        return Response({})


def test_the_vocabulary_test_fails_on_camel_case_wrong_types_and_lists_outside_the_envelope():
    refused = SchemaGenerator(patterns=[path("api/bare", BareList.as_view()), path("api/own", OwnEnvelope.as_view())]).get_schema(
        request=None, public=True
    )
    found = {key: violations(refused, operation) for key, operation in operations(refused)}
    assert found == {
        ("GET", "/api/bare"): [
            "200: a bare list, not the envelope", "field id: an id that is not a string", "field messageType",
            "field sent_at: a time that is not a date-time", "parameter tenantId",
        ],
        ("GET", "/api/own"): [
            "200: list envelope ['cursor', 'results']", "field id: an id that is not a string", "field messageType",
            "field sent_at: a time that is not a date-time",
        ],
    }



#: The operations a new client starts with: each shows what to send and what comes back.
WITH_EXAMPLES = {
    ("POST", "/api/auth/token"),
    ("POST", "/api/workflows"),
    ("POST", "/api/tenants/{tenant_id}/workflow_templates"),
    ("GET", "/api/workflows/{workflow_id}/messages"),
    ("POST", "/api/workflows/{workflow_id}/messages"),
    ("POST", "/api/queue/messages"),
    ("POST", "/api/queue/claims"),
    ("POST", "/api/queue/messages/{id}/complete"),
}


def as_json_schema(node):
    """OpenAPI 3.0's `nullable` in JSON Schema's words, throughout."""
    if isinstance(node, list):
        return [as_json_schema(child) for child in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


def examples(operation):
    """(where, example value, its schema) of every request and response example of `operation`."""
    for content in operation.get("requestBody", {}).get("content", {}).values():
        for name, example in content.get("examples", {}).items():
            yield f"request {name}", example["value"], content["schema"]
    for status, response in operation.get("responses", {}).items():
        for content in response.get("content", {}).values():
            for name, example in content.get("examples", {}).items():
                yield f"{status} {name}", example["value"], content["schema"]


def test_the_main_operations_carry_examples_that_match_their_schema(schema):
    from jsonschema import Draft202012Validator

    document = as_json_schema(schema)
    shown, wrong = set(), []
    for key, operation in operations(schema):
        for where, value, body_schema in examples(operation):
            shown.add(key)
            # The whole document rides along so that `#/components/...` references resolve.
            validator = Draft202012Validator({**document, **as_json_schema(body_schema)})
            wrong += [f"{key} {where}: {error.message}" for error in validator.iter_errors(value)]
    assert WITH_EXAMPLES <= shown, f"no examples: {sorted(WITH_EXAMPLES - shown)}"
    assert not wrong, "\n".join(wrong)

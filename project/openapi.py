"""Harbor's OpenAPI schema (drf-spectacular): a tag per area, every error response, public ids.
Its own module: DRF imports the schema class while defining its views, so this must not import
anything that imports DRF's generic views (project.api does)."""

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from project.serializers import StrictInput

#: What `project.ids.new_public_id` makes: the ids of tenants, workflows, accounts, subscriptions.
PUBLIC_ID_PATTERN = "^[A-Za-z0-9]{12}$"


#: A row id (a token's, a notification's) in a path: digits, in a string as every id is.
ROW_ID_PATTERN = "^[0-9]+$"


def document_public_ids(result, generator, request, public):
    """drf-spectacular postprocessing hook: every `<name>_id` path parameter that is a string
    is a public id, so say so. Clients (and the fuzzer) then know that `accounts` in
    `/api/subscriptions/accounts` is a route of its own, not a subscription id. A path's `<int:…>`
    id is a string of digits: ids are strings on the wire (docs/api.md), and a client generated
    from the schema must not type the id it reads from a response one way and sends another."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") != "path":
                    continue
                if parameter["name"].endswith("_id") and schema.get("type") == "string":
                    schema["pattern"] = PUBLIC_ID_PATTERN
                elif schema.get("type") == "integer":
                    parameter["schema"] = {"type": "string", "pattern": ROW_ID_PATTERN}
    return result


#: The strings DRF's CharField accepts (no NUL), and those that are more than spaces.
TEXT = r"^[^\x00]*$"
NON_BLANK_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"

#: The area (OpenAPI tag) of each app's routes.
TAGS = {
    "project.accounts": "accounts",
    "project.health": "health",
    "project.original": "original clients",
    "workflows": "workflows",
    "notifications": "notifications",
    "queue_app": "queue",
    "subscriptions": "subscriptions",
    "project.webhooks": "webhooks",
}

#: What each error status means, in the one error shape (`Error`), on the operations it can reach.
ERRORS = {
    "400": "Invalid input: `fields` names each request field at fault.",
    "401": "Not authenticated, or the token is invalid, expired or revoked.",
    "403": "Authenticated, but this is not allowed.",
    "404": "No such resource, or not one of yours.",
    "405": "This method is not allowed here.",
    "409": "The request conflicts with the current state.",
    "413": "The request body is too large.",
    "415": "The request body is not JSON (or multipart where a file is expected).",
    "429": "Throttled, or too many failed logins: `retry_after` says how many seconds to wait.",
    "503": "The database is unavailable: retry after the `Retry-After` header's seconds.",
}


class HarborAutoSchema(AutoSchema):
    """drf-spectacular's schema with a tag per area and every error Harbor can answer."""

    def get_tags(self):
        module = type(self.view).__module__
        return [next((tag for prefix, tag in TAGS.items() if module.startswith(prefix)), "other")]

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictInput):
            schema["additionalProperties"] = False
        if direction == "request" and (one_of := getattr(serializer, "schema_requires_one_of", ())):
            # A rule across fields (at least one of them is sent), which a `required` list cannot say.
            schema["anyOf"] = [{"required": [name]} for name in one_of]
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """What DRF refuses in a string, said as a pattern: a NUL character anywhere, and nothing
        but spaces in a required string that it trims."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField) and schema.get("type") == "string"
                and not {"pattern", "format", "enum"} & set(schema)
                and not any(isinstance(validator, RegexValidator) for validator in field.validators)):
            non_blank = field.trim_whitespace and not field.allow_blank
            schema["pattern"] = NON_BLANK_TEXT if non_blank else TEXT
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "405", "429", "503"]
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        for code in codes:
            responses.setdefault(code, {
                "description": ERRORS[code],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            })
        return responses


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: the `Error` component every error response names."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string", "description": "Stable: `invalid`, `not_found`, `throttled`, …"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {},
                        "description": "Request field → its messages (nested like the request for nested "
                        "fields); `{}` when the error is not about a field.",
                    },
                    "retry_after": {"type": "integer", "description": "429 only: seconds to wait."},
                },
            }
        },
    }
    return result

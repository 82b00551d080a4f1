"""Serializer parts every app's request bodies share. Its own module, importing only DRF, so that
any app's serializers can use it without importing views."""

import functools
from collections.abc import Mapping
from datetime import UTC

from rest_framework import exceptions, serializers


#: The JSON types each kind of field takes. DRF's fields are lenient for form posts (`0` becomes
#: `"0"`, `"yes"` becomes true, `"5"` becomes 5); Harbor's API parses JSON only, where that
#: leniency is not promised by the schema and hides a client's bug.
JSON_TYPES = (
    (serializers.CharField, (str,)),
    (serializers.BooleanField, (bool,)),
    (serializers.IntegerField, (int,)),
    (serializers.FloatField, (int, float)),
)


class StrictInput:
    """Serializer mixin for a request body: a field the serializer does not know is a 400 naming
    it, not dropped in silence, and each field takes its JSON type only (`JSON_TYPES`). The
    schema says so too (`additionalProperties: false`, see project.openapi)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            for name, field in self.fields.items():
                if name in data and not field.read_only and not _of_json_type(field, data[name]):
                    errors[name] = ["Not a valid " + type(field).__name__.removesuffix("Field").lower() + "."]
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


def _of_json_type(field, value) -> bool:
    if value is None:
        return True  # the field's own allow_null decides
    for field_class, types in JSON_TYPES:
        if isinstance(field, field_class):
            return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    return True


class StrictSerializer(StrictInput, serializers.Serializer):
    """A request body's serializer (see StrictInput)."""


class QuerySerializer(serializers.Serializer):
    """A list's query parameters. One sent empty (`?tenant_id=`) is a 400 naming it: DRF reads
    an empty form value as absent, which would answer an unfiltered list to a filter."""

    def to_internal_value(self, data):
        empty = {name: ["Must not be empty."] for name in self.fields if data.get(name) == ""}
        if empty:
            raise exceptions.ValidationError(empty)
        return super().to_internal_value(data)


@functools.lru_cache(maxsize=1024)
def iso_utc(value) -> str | None:
    """A datetime as DRF's DateTimeField writes it in UTC (ISO 8601, `Z`), for the shapes the hot
    paths write out instead of serializing (queue_app.serializers.message_data,
    notifications.serializers.notification_data, workflows.serializers.MessageSerializer).
    Remembered: a queue batch writes the same few instants (its claim's, its completion's) into
    every message's shape, twice each."""
    if value is None:
        return None
    value = value.astimezone(UTC).isoformat()
    return value[:-6] + "Z" if value.endswith("+00:00") else value

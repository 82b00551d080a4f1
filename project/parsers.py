"""Its own module: DRF imports the parser classes while defining APIView, so this must not
import anything that imports DRF views."""

from rest_framework import exceptions, parsers


def unstorable(text: str) -> str | None:
    """What in `text` PostgreSQL would refuse (a DataError, a 500), or None: it refuses NUL in
    text and jsonb, and a lone surrogate cannot even be encoded to UTF-8."""
    if "\x00" in text:
        return "a null character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate (\\ud800-\\udfff)"
    return None


def _first_unstorable(value) -> str | None:
    """The first unstorable string anywhere in a parsed JSON value, keys included. A loop, not
    recursion: the value may be nested as deep as json.loads allowed."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if problem := unstorable(item):
                return problem
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def check_storable(data) -> None:
    """A ValidationError (400) naming each top-level field whose value, or a key or string
    inside it, PostgreSQL would refuse; `non_field_errors` for a body that is not an object and
    for a top-level key that is itself the culprit (it cannot name itself usefully)."""
    fields = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if problem := unstorable(key):
                fields.setdefault("non_field_errors", []).append(f"Field names may not contain {problem}.")
            elif problem := _first_unstorable(value):
                fields[key] = [f"Text may not contain {problem}."]
    elif problem := _first_unstorable(data):
        fields["non_field_errors"] = [f"Text may not contain {problem}."]
    if fields:
        raise exceptions.ValidationError(fields)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but JSON nested deeper than Python's recursion limit is a 400 like
    any other malformed body, not a RecursionError and a 500; and so is a string (value or key)
    that PostgreSQL cannot store, naming the field, wherever a view would put it."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        check_storable(data)
        return data

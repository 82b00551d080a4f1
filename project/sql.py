"""Queries that run on every request, written once as SQL and read back into models, and the
hot paths' bulk insert.

Composing a queryset costs more CPU than the database spends running it (build_filter,
compile, clone, resolve_expression: docs/performance.md); the few statements on every request's
path (token authentication, the workflow access check) are written here once instead. Their
columns are read into model instances with each field's own database converters and the
model's `from_db`, so the models are the same as the ORM's (datetimes, booleans and JSON on
SQLite included); the models read on hot paths load without `Model.__init__`
(LoadedWithoutInit)."""

import datetime
import decimal
import json
import uuid

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import DateField, Field, TimeField
from django.db.models.base import ModelState
from django.db.models.expressions import Col
from django.db.models.signals import post_init, pre_init


def prepared_cursor():
    """`connection.cursor()` for a statement written here once and run on every request: on
    PostgreSQL it is prepared, parsed and planned once per connection
    (project.postgresql.PreparedCursor); elsewhere the usual cursor."""
    conn = connections[DEFAULT_DB_ALIAS]
    return conn.prepared_cursor() if hasattr(conn, "prepared_cursor") else conn.cursor()


class LoadedWithoutInit:
    """A model mixin: `from_db` (Django's hook for loading a row, called for every instance a
    queryset or `Columns.load` makes) without `Model.__init__`: the row's values go straight
    into the instance's `__dict__` under their attnames (`field_names`, in the row's order; a
    deferred field is simply absent, as `__init__` leaves it). `__init__`'s loop over the
    fields, with its pre_init and post_init signals, was a sixth of a page of 50 messages' CPU,
    and a third of the access check's before (docs/performance.md). A model with a pre_init or
    post_init receiver (an ImageField's dimensions, a third-party tracker) takes Django's way."""

    @classmethod
    def from_db(cls, db, field_names, values):
        if field_names is None or (
            (pre_init.receivers or post_init.receivers)  # has_listeners alone was a tenth of a page
            and (pre_init.has_listeners(cls) or post_init.has_listeners(cls))
        ):
            return super().from_db(db, field_names, values)
        instance = cls.__new__(cls)
        instance.__dict__.update(zip(field_names, values))
        instance._state = state = ModelState()
        state.adding, state.db = False, db
        return instance


class Columns:
    """The concrete columns of `model` under table alias `alias`, in the order of
    `model._meta.concrete_fields`: `.sql` to put in a SELECT, `.load(values)` for the instance."""

    def __init__(self, model, alias: str):
        self.model = model
        self.alias = alias
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.width = len(self.fields)
        self._pk_index = self.fields.index(model._meta.pk)
        self._converters = {}
        self._sql = {}

    @property
    def sql(self) -> str:
        vendor = connection.vendor
        if vendor not in self._sql:
            quote = connection.ops.quote_name
            self._sql[vendor] = ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)
        return self._sql[vendor]

    def _converters_for(self, conn):
        if conn.vendor not in self._converters:
            converters = []
            for index, field in enumerate(self.fields):
                expression = Col(self.alias, field)
                found = conn.ops.get_db_converters(expression) + field.get_db_converters(conn)
                if found:
                    converters.append((index, expression, found))
            self._converters[conn.vendor] = converters
        return self._converters[conn.vendor]

    def load(self, values, conn=None):
        """The instance for `values` (a slice of a row), or None if its primary key is NULL
        (the other side of a LEFT JOIN that matched nothing)."""
        # The connection itself, not django.db.connection: each attribute read through that
        # proxy is a thread-local lookup, and a row's loading reads several.
        conn = conn or connections[DEFAULT_DB_ALIAS]
        values = list(values)
        if values[self._pk_index] is None:
            return None
        for index, expression, converters in self._converters_for(conn):
            value = values[index]
            for converter in converters:
                value = converter(value, expression, conn)
            values[index] = value
        return self.model.from_db(conn.alias, self.attnames, values)


class IdPages:
    """The rows of `model` under one parent (`parent`, a foreign key), with the foreign keys in
    `related` loaded alongside as `select_related` loads them, paged by id: what DRF's
    CursorPagination asks of a list ordered by id (`order_by("id")` or its reverse, a filter
    `id__gt` / `id__lt` on the cursor's position, a slice), answered by SQL written once per
    shape. Composing and compiling the equivalent queryset was a ninth of a page of 50
    messages' CPU (bench/http_reads). `under(parent_id)` is the list; the view's queryset stays
    its definition (tests/workflows/test_message_pages.py holds them equal)."""

    def __init__(self, model, parent: str, related: tuple[str, ...] = ()):
        self.model = model
        self.parent = model._meta.get_field(parent)
        self.related = [model._meta.get_field(name) for name in related]
        self.columns = [Columns(model, "r")] + [Columns(field.related_model, f"j{index}") for index, field in enumerate(self.related)]
        self._sql = {}

    def under(self, parent_id) -> "IdPagedRows":
        return IdPagedRows(self, parent_id)

    def _statement(self, descending: bool, bound: str | None) -> str:
        key = (connection.vendor, descending, bound)
        if key not in self._sql:
            columns, quote = self.columns, connection.ops.quote_name
            pk = quote(self.model._meta.pk.column)
            joins = "".join(
                f" LEFT JOIN {quote(field.related_model._meta.db_table)} {joined.alias}"
                f" ON {joined.alias}.{quote(field.target_field.column)} = r.{quote(field.column)}"
                for field, joined in zip(self.related, columns[1:]))
            where = f"r.{quote(self.parent.column)} = %s" + (f" AND r.{pk} {bound} %s" if bound else "")
            self._sql[key] = (f"SELECT {', '.join(c.sql for c in columns)} FROM {quote(self.model._meta.db_table)} r{joins} "
                              f"WHERE {where} ORDER BY r.{pk} {'DESC' if descending else 'ASC'} LIMIT %s OFFSET %s")
        return self._sql[key]

    def rows(self, parent_id, descending: bool, bound: tuple[str, object] | None, offset: int, limit: int) -> list:
        sql = self._statement(descending, bound[0] if bound else None)
        params = [parent_id, *([bound[1]] if bound else []), limit, offset]
        conn = connections[DEFAULT_DB_ALIAS]
        base, *joined = self.columns
        loaded = []
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
            for row in cursor.fetchall():
                instance, start = base.load(row[: base.width], conn), base.width
                for field, columns in zip(self.related, joined):
                    field.set_cached_value(instance, columns.load(row[start : start + columns.width], conn))
                    start += columns.width
                loaded.append(instance)
        return loaded


class IdPagedRows:
    """`IdPages.under(parent_id)`: the queryset methods CursorPagination calls on a list ordered
    by id, and nothing else (anything more is a TypeError, not a silent difference)."""

    BOUNDS = {"id__gt": ">", "pk__gt": ">", "id__lt": "<", "pk__lt": "<"}

    def __init__(self, pages: IdPages, parent_id, descending=False, bound=None):
        self.pages, self.parent_id, self.descending, self.bound = pages, parent_id, descending, bound

    def order_by(self, *ordering):
        if ordering not in (("id",), ("-id",), ("pk",), ("-pk",)):
            raise TypeError(f"IdPagedRows is ordered by id, not {ordering}")
        return IdPagedRows(self.pages, self.parent_id, ordering[0].startswith("-"), self.bound)

    def filter(self, **lookups):
        [(lookup, value)] = lookups.items()
        if lookup not in self.BOUNDS or self.bound is not None:
            raise TypeError(f"IdPagedRows filters on one id bound, not {lookup}")
        return IdPagedRows(self.pages, self.parent_id, self.descending,
                           (self.BOUNDS[lookup], self.pages.model._meta.pk.to_python(value)))

    def __getitem__(self, window: slice) -> list:
        if not isinstance(window, slice) or window.step is not None or window.stop is None:
            raise TypeError("IdPagedRows is read by a bounded slice")
        offset = window.start or 0
        return self.pages.rows(self.parent_id, self.descending, self.bound, offset, window.stop - offset)


def new_row(model, **values):
    """`model(**values)` for the rows the hot paths insert in bulk (a queue batch's replies, their
    notifications, the event log's rows), without Model.__init__: its loop over every field,
    with descriptor assignments and signals, was a fifth of a queue batch's CPU for 200 rows
    (docs/performance.md). `values` are keyed by attname (`reply_to_id`, not `reply_to`); every
    other field takes its default as Model.__init__ would. Only for models no post_init
    receiver needs (no ImageField's dimensions, no GenericForeignKey)."""
    try:
        defaults = _DEFAULTS[model]
    except KeyError:
        defaults = _DEFAULTS[model] = [(field.attname, field._get_default) for field in model._meta.concrete_fields]
    instance = model.__new__(model)
    instance._state = ModelState()
    fields = instance.__dict__
    for attname, default in defaults:
        fields[attname] = values.pop(attname) if attname in values else default()
    if values:
        raise TypeError(f"{model.__name__} has no field {sorted(values)[0]!r} (attnames only)")
    return instance


_DEFAULTS: dict = {}


def _insert_plan(model) -> tuple[list, str]:
    """bulk_insert's (column, field, read as is) per inserted field and its SQL, once per model.
    Only fields whose pre_save does more than read the attribute (auto_now, auto_now_add, files)
    are asked for their value."""
    try:
        return _INSERT_PLANS[model]
    except KeyError:
        pass
    meta, quote = model._meta, connection.ops.quote_name
    pk_made_by_database = meta.pk.db_returning
    readers = []
    for field in meta.concrete_fields:
        if field.primary_key and pk_made_by_database:
            continue
        as_is = type(field).pre_save is Field.pre_save or (
            isinstance(field, (DateField, TimeField)) and not (field.auto_now or field.auto_now_add)
        )
        readers.append((field.column, field, as_is))
    columns = ", ".join(quote(column) for column, _, _ in readers)
    table = quote(meta.db_table)
    # WITH ORDINALITY … ORDER BY: the rows are inserted, and their ids returned, in objs' order.
    sql = (f"INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
           f"WITH ORDINALITY AS row_ ORDER BY row_.ordinality"
           + (f" RETURNING {quote(meta.pk.column)}" if pk_made_by_database else ""))
    _INSERT_PLANS[model] = readers, sql
    return readers, sql


_INSERT_PLANS: dict = {}


def bulk_insert(objs: list) -> list:
    """`bulk_create(objs)` for the hot paths (the event log, a queue batch's replies, their
    notifications), setting each object's primary key as bulk_create does, without signals.

    On PostgreSQL one INSERT whose one parameter is every row as one JSON document, read back
    into rows by `jsonb_populate_recordset`. Django's bulk_create sends one array per column,
    and psycopg quotes each element of each array in Python (a regular-expression substitution
    per element, worst on the events' JSON: a third of a queue batch's CPU,
    docs/performance.md); here the JSON is encoded in C and quoted once. Elsewhere it is
    bulk_create itself."""
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return objs
    pk_made_by_database = model._meta.pk.db_returning
    readers, sql = _insert_plan(model)
    rows = [{column: getattr(obj, field.attname) if as_is else field.pre_save(obj, True) for column, field, as_is in readers}
            for obj in objs]
    with prepared_cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, default=_json_value, allow_nan=False)])
        if pk_made_by_database:
            for obj, (pk,) in zip(objs, cursor.fetchall()):
                obj.pk = pk
    alias = connection.alias
    for obj in objs:
        obj._state.adding, obj._state.db = False, alias
    return objs


def _json_value(value):
    """What json cannot encode itself, as PostgreSQL reads it back from text (datetimes at full
    precision, unlike DjangoJSONEncoder's milliseconds)."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be stored by bulk_insert")

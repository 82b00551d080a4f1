"""Django's PostgreSQL backend, reading `timestamptz` with psycopg's C parser, and with a
cursor that prepares its statements for the ones written once (`prepared_cursor`).

Django registers its own `timestamptz` loader to pin the tzinfo of what it reads, and that loader
derives from psycopg's pure-Python one: with psycopg-binary installed, every timestamp still
goes through a Python regex and `datetime.replace` (Django ticket #36960, psycopg #1273: the C
loader cannot be subclassed). It was a tenth of the CPU of a page of 50 messages
(bench/http_reads). Where Django wants UTC, which it also sets as the session's time zone on
every connection (`ensure_timezone`), psycopg's C loader returns the same value, with
`datetime.timezone.utc` as its tzinfo: the loader below keeps Django's class (its `timezone` is
what `create_cursor` compares) and hands each value to the C parser. Any other configuration
keeps Django's loader unchanged."""

import datetime
from functools import lru_cache

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg import adapt, pq

TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
#: psycopg's C loader where psycopg-binary (or psycopg-c) is installed, else its Python one.
OPTIMISED_LOADER = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, pq.Format.TEXT)


class UtcTimestamptzLoader(BaseTzLoader):
    timezone = datetime.timezone.utc

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        # Its `load`, bound once per result column: psycopg's row loop then calls C directly.
        self.load = OPTIMISED_LOADER(oid, context).load


@lru_cache
def _with_optimised_loader(template: adapt.AdaptersMap) -> adapt.AdaptersMap:
    adapters = adapt.AdaptersMap(template)
    adapters.register_loader("timestamptz", UtcTimestamptzLoader)
    return adapters


class PreparedCursor(base.ServerBindingCursor):
    """A server-side binding cursor whose every statement is prepared: PostgreSQL parses and
    plans it once per connection (psycopg keeps a connection's last 100). Django's cursors bind
    parameters client-side and never prepare, so each statement is parsed and planned again:
    275 µs of PostgreSQL's CPU for a two-table lookup, against 102 µs prepared (a loop of 4,000
    on this machine). For SQL written once, run on every request (project.sql.prepared_cursor)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        # psycopg prepares nothing where the connection's prepare_threshold is None
        # (DATABASE_PREPARED_STATEMENTS=false): then this is a plain server-side binding cursor.
        return super().execute(query, params, prepare=True, binary=binary)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        """The query log's text of a prepared statement (DEBUG, CaptureQueriesContext): its
        parameters bound as Django's client-side cursors would have sent them."""
        if isinstance(cursor, PreparedCursor):
            return self.compose_sql(sql, params)
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self):
        params = super().get_connection_params()
        if self.timezone is datetime.timezone.utc and "context" in params:
            params["context"] = _with_optimised_loader(params["context"])
        return params

    def prepared_cursor(self):
        """`cursor()`, with PreparedCursor under Django's wrapper (its query log, error
        translation and execute wrappers)."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(PreparedCursor(self.connection))

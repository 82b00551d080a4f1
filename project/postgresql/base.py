"""Django's PostgreSQL backend, reading `timestamptz` with psycopg's C parser.

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
from django.db.backends.postgresql import base
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


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if self.timezone is datetime.timezone.utc and "context" in params:
            params["context"] = _with_optimised_loader(params["context"])
        return params

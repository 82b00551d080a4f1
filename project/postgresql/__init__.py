"""Django's PostgreSQL backend with psycopg's C parser for `timestamptz` (see base.py);
settings.py selects it for every `postgres://` DATABASE_URL."""

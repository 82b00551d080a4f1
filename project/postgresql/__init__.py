"""Django's PostgreSQL backend with psycopg's C parser for `timestamptz` and a cursor that
prepares the statements written once (see base.py); settings.py selects it for every
`postgres://` DATABASE_URL."""

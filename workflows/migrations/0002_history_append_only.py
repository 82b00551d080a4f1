"""The audit trail refuses changes in the database itself, whatever code path tries.

UPDATE is refused on every database. DELETE is refused on PostgreSQL only: Django's test flush
empties SQLite tables with DELETE, while PostgreSQL's flush uses TRUNCATE, which row triggers
do not see. On SQLite the model and its queryset refuse deletes."""

from django.db import migrations

TABLE = "workflows_historyevent"
MESSAGE = f"{TABLE} is append-only"


def create_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER historyevent_no_update BEFORE UPDATE ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
        )
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE FUNCTION historyevent_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$;"
        )
        schema_editor.execute(
            f"CREATE TRIGGER historyevent_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION historyevent_append_only();"
        )


def drop_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS historyevent_no_update;")
    elif vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS historyevent_append_only ON {TABLE};")
        schema_editor.execute("DROP FUNCTION IF EXISTS historyevent_append_only();")


class Migration(migrations.Migration):
    dependencies = [("workflows", "0001_initial")]
    operations = [migrations.RunPython(create_guards, drop_guards)]

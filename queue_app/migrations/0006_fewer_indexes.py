import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

#: The `varchar_pattern_ops` index PostgreSQL gets for a varchar primary key (Django makes it
#: for LIKE lookups, which no query on this table makes): one more index entry for every claim
#: and completion, whose updates cannot be HOT (see QueueMessage.Meta.indexes).
PATTERN_INDEX_SQL = """
    SELECT indexname FROM pg_indexes
    WHERE tablename = 'queue_app_queuemessage' AND indexdef LIKE '%%(id varchar_pattern_ops)%%'
"""


def drop_primary_key_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(PATTERN_INDEX_SQL)
        for (name,) in cursor.fetchall():
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_primary_key_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX queue_app_queuemessage_id_like ON queue_app_queuemessage (id varchar_pattern_ops)"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_invitations'),
        ('queue_app', '0005_tenant_provider'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='queuemessage',
            name='reply_to',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='replies', to='queue_app.queuemessage'),
        ),
        migrations.AlterField(
            model_name='queuemessage',
            name='tenant',
            field=models.ForeignKey(blank=True, db_index=False, help_text='Empty for the public stream.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='queue_messages', to='accounts.tenant'),
        ),
        migrations.AddIndex(
            model_name='queuemessage',
            index=models.Index(fields=['reply_to'], name='queue_reply_to'),
        ),
        migrations.RunPython(drop_primary_key_pattern_index, create_primary_key_pattern_index),
    ]

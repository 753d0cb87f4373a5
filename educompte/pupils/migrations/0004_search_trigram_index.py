"""PostgreSQL: a trigram index so that "part of a name" searches (LIKE '%…%' on the
normalised name) use an index at a million pupils. SQLite has no such index; nothing to do."""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS student_search_trgm ON pupils_student "
    "USING gin (search_name gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS student_search_trgm"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("pupils", "0003_supportrequest")]
    operations = [migrations.RunPython(forwards, backwards)]

"""PostgreSQL: drop the trigram index of 0004. Every name search is scoped to one
establishment, where reading its (establishment, search_name) index entries is faster
(2 ms against 11 ms for "lef" among 1,000,000 pupils: the trigram index returned 40,000
candidates from the whole academy), and the GIN index slowed every import."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS student_search_trgm")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS student_search_trgm ON pupils_student "
            "USING gin (search_name gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("pupils", "0005_student_establishment_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]

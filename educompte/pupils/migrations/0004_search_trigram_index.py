"""Formerly: a PostgreSQL trigram index (and the pg_trgm extension) for "part of a name"
searches. Every search is scoped to one establishment, where the (establishment,
search_name) index is faster (0006 drops the index where this migration made it), so a
new installation no longer needs the extension. Kept so that the migration graph holds."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("pupils", "0003_supportrequest")]
    operations: list = []

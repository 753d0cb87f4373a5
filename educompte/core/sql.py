"""Names for the few statements written in SQL (hot paths where composing the query in
the ORM cost more than running it): always the models' own, quoted for the database."""

from __future__ import annotations

from django.db import connection, models


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], field: str, alias: str = "") -> str:
    """The quoted column of ``field``, prefixed by the table alias ``alias`` if given."""
    name = connection.ops.quote_name(model._meta.get_field(field).column)
    return f"{alias}.{name}" if alias else name

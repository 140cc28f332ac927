"""Bulk writes for the importers: row-wise UPDATE through `executemany`, for batches where Django's bulk_update
(one giant CASE expression per column) costs more than the inserts themselves, and INSERT of plain rows."""

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Model


def bulk_update_rows(objects: Sequence[Model], field_names: Sequence[str]) -> None:
    if not objects:
        return
    model = type(objects[0])
    database = router.db_for_write(model)
    connection = connections[database]
    quote = connection.ops.quote_name
    fields = [field for field in model._meta.concrete_fields if field.name in set(field_names)]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    # Identifiers come from the model's own metadata, never from input; values are parameters.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def rows_insert(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, returning_ids: bool
) -> list[int]:
    """Insert `rows` (values in the order of `columns`, field attnames, as the database takes them) into the
    model's table, and return the new rows' ids in row order when `returning_ids`.

    On PostgreSQL through COPY, the ids reserved from the table's sequence first (a model instance per row and
    Django's INSERT cost more than parsing the file); elsewhere through bulk_create."""
    if not rows:
        return []
    database = router.db_for_write(model)
    connection = connections[database]
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.using(database).bulk_create(objects)
        return [obj.pk for obj in objects] if returning_ids else []
    quote = connection.ops.quote_name
    table = model._meta.db_table
    column_of = {field.attname: str(field.column) for field in model._meta.concrete_fields}
    names = [column_of[name] for name in columns]
    ids: list[int] = []
    with connection.cursor() as cursor:
        if returning_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(rows)]
            )
            ids = sorted(value for (value,) in cursor.fetchall())
            names = ["id", *names]
            rows = [(row_id, *row) for row_id, row in zip(ids, rows, strict=True)]
        # Identifiers come from the model's own metadata, never from input; values travel as COPY data.
        statement = f"COPY {quote(table)} ({', '.join(quote(name) for name in names)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    return ids

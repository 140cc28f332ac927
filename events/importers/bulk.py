"""Row-wise UPDATE through `executemany`, for batches where Django's bulk_update (one giant CASE
expression per column) costs more than the inserts themselves."""

from collections.abc import Sequence

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

"""Many rows at once: new ones by COPY on PostgreSQL (bulk_create elsewhere), changed ones by
one UPDATE ... FROM (VALUES ...)."""

from django.db import DEFAULT_DB_ALIAS, connections

# Values psycopg takes as they are (str, int, Decimal, date, datetime, bytes, None) skip
# Django's preparation, which is most of the cost; the others (JSON...) go through it.
_PLAIN = {"CharField", "TextField", "IntegerField", "PositiveIntegerField",
          "PositiveSmallIntegerField", "SmallIntegerField", "BigIntegerField", "AutoField",
          "BigAutoField", "ForeignKey", "OneToOneField", "DateField", "DateTimeField",
          "DecimalField", "BooleanField", "BinaryField"}


# Below this many rows one INSERT costs less than drawing ids and opening a COPY.
FEW = 20


def insert_rows(model, objects: list, *, batch_size: int = 2000) -> None:
    """Inserts the unsaved `objects` and sets their primary keys, in their order.

    PostgreSQL: the ids are drawn from the table's sequence in one query, then the rows are
    streamed with COPY: no SQL to build, no parameter to quote (Django's bulk_create passes
    each column as an array that psycopg quotes element by element, most of its cost for long
    texts and JSON). Triggers run as for any insert; `auto_now(_add)` dates are set as
    bulk_create sets them. Elsewhere, or for fewer than FEW rows: bulk_create.
    """
    if not objects:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or len(objects) < FEW:
        model.objects.bulk_create(objects, batch_size=batch_size)
        return
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    table = model._meta.db_table
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    prepare = [(f.attname, None if f.get_internal_type() in _PLAIN else f.get_db_prep_save)
               for f in fields]
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [table, model._meta.pk.column, len(objects)])
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk
            for field in stamped:
                field.pre_save(obj, add=True)
        columns = ", ".join(quote(f.column) for f in fields)
        with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([getattr(obj, attname) if save is None
                                else save(getattr(obj, attname), connection)
                                for attname, save in prepare])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS


def update_rows(model, objects: list, names: list[str], *, batch_size: int = 500) -> None:
    """Writes the fields `names` of `objects`, each its own values: on PostgreSQL one
    `UPDATE ... FROM (VALUES ...)` per `batch_size` rows (bulk_update's CASE WHEN costs more to
    build in Python than the database takes to run it), elsewhere one prepared UPDATE run for
    each row. The table's triggers run as for any update."""
    for start in range(0, len(objects), batch_size):
        _update_batch(model, objects[start:start + batch_size], names)


def _update_batch(model, objects: list, names: list[str]) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    pk = model._meta.pk
    rows = [[obj.pk, *(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields)]
            for obj in objects]
    table = quote(model._meta.db_table)
    # Identifiers come from the model, quoted; every value is a bound parameter.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            typed = "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in [pk, *fields]) + ")"
            columns = ", ".join(quote(f.column) for f in [pk, *fields])
            sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
            cursor.execute(
                f"UPDATE {table} AS t SET {sets} FROM (VALUES {', '.join([typed] * len(rows))})"  # noqa: S608
                f" AS v({columns}) WHERE t.{quote(pk.column)} = v.{quote(pk.column)}",
                [value for row in rows for value in row])
        else:
            sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE {quote(pk.column)} = %s",  # noqa: S608
                               [[*row[1:], row[0]] for row in rows])

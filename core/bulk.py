"""Rows at once: new ones by COPY on PostgreSQL (one INSERT for a few; bulk_create elsewhere),
changed ones by one UPDATE ... FROM (VALUES ...)."""

import functools

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

    PostgreSQL: for a few rows (fewer than FEW), one INSERT ... RETURNING written here; for
    more, the ids are drawn from the table's sequence in one query and the rows streamed with
    COPY. Either way no SQL is compiled by the ORM and no column is passed as an array (Django's
    bulk_create passes each column as an array that psycopg quotes element by element, most of
    its cost for long texts and JSON). Triggers run as for any insert; `auto_now(_add)` dates
    are set as bulk_create sets them. Elsewhere: bulk_create.
    """
    if not objects:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=batch_size)
        return
    fields = model._meta.concrete_fields
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj in objects:
        for field in stamped:
            field.pre_save(obj, add=True)
    if len(objects) < FEW:
        _insert_returning(connection, model, objects)
    else:
        _copy(connection, model, objects)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS


def _row(connection, prepare, obj) -> list:
    return [getattr(obj, attname) if save is None else save(getattr(obj, attname), connection)
            for attname, save in prepare]


def _preparers(fields) -> list:
    return [(f.attname, None if f.get_internal_type() in _PLAIN else f.get_db_prep_save)
            for f in fields]


def _insert_returning(connection, model, objects: list) -> None:
    sql, prepare = _insert_statement(model, len(objects), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for obj in objects for value in _row(connection, prepare, obj)])
        for obj, (value,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = value


@functools.lru_cache(maxsize=512)
def _insert_statement(model, count: int, vendor: str) -> tuple[str, list]:
    """INSERT of `count` rows of `model` returning their ids, with how each value is prepared
    (written once per model and row count: a worker writes the same few over and over)."""
    connection = connections[DEFAULT_DB_ALIAS]
    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if f is not pk]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Identifiers come from the model, quoted; every value is a bound parameter. The ids come
    # back in the rows' order, as Django's bulk_create takes them from PostgreSQL too.
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"  # noqa: S608
           f" VALUES {', '.join([row] * count)} RETURNING {quote(pk.column)}")
    return sql, _preparers(fields)


def _copy(connection, model, objects: list) -> None:
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    table = model._meta.db_table
    prepare = _preparers(fields)
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [table, model._meta.pk.column, len(objects)])
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk
        columns = ", ".join(quote(f.column) for f in fields)
        with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row(_row(connection, prepare, obj))


def update_rows(model, objects: list, names: list[str], *, batch_size: int = 500) -> None:
    """Writes the fields `names` of `objects`, each its own values: on PostgreSQL one
    `UPDATE ... FROM (VALUES ...)` per `batch_size` rows (bulk_update's CASE WHEN costs more to
    build in Python than the database takes to run it), elsewhere one prepared UPDATE run for
    each row. The table's triggers run as for any update."""
    for start in range(0, len(objects), batch_size):
        _update_batch(model, objects[start:start + batch_size], names)


def _update_batch(model, objects: list, names: list[str]) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    fields, sql = _update_statement(model, tuple(names), len(objects), connection.vendor)
    rows = [[obj.pk, *(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields)]
            for obj in objects]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql, [value for row in rows for value in row])
        else:
            cursor.executemany(sql, [[*row[1:], row[0]] for row in rows])


@functools.lru_cache(maxsize=512)
def _update_statement(model, names: tuple, count: int, vendor: str) -> tuple[list, str]:
    """The fields `names` of `model` and the UPDATE that writes them for `count` rows (written
    once per model, fields and row count)."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    pk = model._meta.pk
    table = quote(model._meta.db_table)
    # Identifiers come from the model, quoted; every value is a bound parameter.
    if vendor == "postgresql":
        typed = "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in [pk, *fields]) + ")"
        columns = ", ".join(quote(f.column) for f in [pk, *fields])
        sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
        return fields, (f"UPDATE {table} AS t SET {sets} FROM (VALUES {', '.join([typed] * count)})"  # noqa: S608
                        f" AS v({columns}) WHERE t.{quote(pk.column)} = v.{quote(pk.column)}")
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    return fields, f"UPDATE {table} SET {sets} WHERE {quote(pk.column)} = %s"  # noqa: S608


def locked_values(model, pk, names: list[str]) -> tuple:
    """The row's fields `names`, the row locked until the transaction ends (SELECT ... FOR
    UPDATE): on PostgreSQL one statement written here, for a hot path that only needs to know
    whether a row it holds in memory has changed. Elsewhere the ORM's."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return model.objects.select_for_update().filter(pk=pk).values_list(*names).get()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in names)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {quote(model._meta.db_table)}"  # noqa: S608
                       f" WHERE {quote(model._meta.pk.column)} = %s FOR UPDATE", [pk])
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist(f"{model.__name__} {pk}")
    return tuple(row)

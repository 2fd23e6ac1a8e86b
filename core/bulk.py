"""Many new rows at once: on PostgreSQL by COPY, elsewhere by bulk_create."""

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

"""Search answers from an index at any size, on PostgreSQL: trigram GIN indexes (pg_trgm) on
what the invoice list's search reads, in the form Django's case-insensitive `contains` queries
it (`UPPER(col::text) LIKE UPPER('%...%')`). SQLite (the demo, a laptop) has none and needs
none. Creating the extension needs the right to (a superuser, or a database owner on
PostgreSQL 13+ where pg_trgm is trusted)."""

from django.db import migrations

INDEXES = [
    ("invoice_number_trgm", "invoicing_invoice", "number"),
    ("invoice_po_number_trgm", "invoicing_invoice", "po_number"),
    ("buyer_name_trgm", "directory_buyer", "name"),
    ("buyer_siret_trgm", "directory_buyer", "siret"),
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON {table} '
                              f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)')


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0016_verbose_names"), ("directory", "0005_account_in_core")]
    operations = [migrations.RunPython(forward, backward)]

"""The database refuses to let an invoice leave the draft states without a line."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION invoicing_invoice_needs_lines() RETURNS trigger AS $$
BEGIN
  IF NEW.state NOT IN ('draft', 'failed') AND NEW.state IS DISTINCT FROM OLD.state
     AND NOT EXISTS (SELECT 1 FROM invoicing_invoiceline WHERE invoice_id = NEW.id) THEN
    RAISE EXCEPTION 'invoice % has no line and cannot be sent', NEW.number;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoice_needs_lines BEFORE UPDATE OF state ON invoicing_invoice
  FOR EACH ROW EXECUTE FUNCTION invoicing_invoice_needs_lines();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS invoice_needs_lines ON invoicing_invoice;
DROP FUNCTION IF EXISTS invoicing_invoice_needs_lines();
"""
SQLITE_FORWARD = """
CREATE TRIGGER invoice_needs_lines BEFORE UPDATE OF state ON invoicing_invoice
WHEN NEW.state NOT IN ('draft', 'failed') AND NEW.state IS NOT OLD.state
     AND NOT EXISTS (SELECT 1 FROM invoicing_invoiceline WHERE invoice_id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'an invoice without a line cannot be sent'); END
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS invoice_needs_lines"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0004_invoice_attachment")]
    operations = [migrations.RunPython(forward, backward)]

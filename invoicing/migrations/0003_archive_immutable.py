"""The database itself refuses to alter an archived legal XML or the invoice history.

PostgreSQL: triggers refuse UPDATE of the archived bytes/hash and any DELETE (TRUNCATE, which
test teardown uses, stays possible for the database owner). SQLite (the laptop default): the
same for UPDATE; DELETE is guarded in the application only, as SQLite's flush deletes rows.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION invoicing_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION invoicing_legal_document_frozen() RETURNS trigger AS $$
BEGIN
  IF NEW.content IS DISTINCT FROM OLD.content OR NEW.sha256 IS DISTINCT FROM OLD.sha256
     OR NEW.size IS DISTINCT FROM OLD.size OR NEW.invoice_id IS DISTINCT FROM OLD.invoice_id
     OR NEW.submission_round IS DISTINCT FROM OLD.submission_round
     OR (OLD.acknowledged_at IS NOT NULL AND NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at)
  THEN
    RAISE EXCEPTION 'an archived legal XML is never changed';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER legal_document_no_update BEFORE UPDATE ON invoicing_legaldocument
  FOR EACH ROW EXECUTE FUNCTION invoicing_legal_document_frozen();
CREATE TRIGGER legal_document_no_delete BEFORE DELETE ON invoicing_legaldocument
  FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_change();
CREATE TRIGGER invoice_event_no_update BEFORE UPDATE OR DELETE ON invoicing_invoiceevent
  FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_change();
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS legal_document_no_update ON invoicing_legaldocument;
DROP TRIGGER IF EXISTS legal_document_no_delete ON invoicing_legaldocument;
DROP TRIGGER IF EXISTS invoice_event_no_update ON invoicing_invoiceevent;
DROP FUNCTION IF EXISTS invoicing_legal_document_frozen();
DROP FUNCTION IF EXISTS invoicing_refuse_change();
"""

SQLITE_FORWARD = [
    """CREATE TRIGGER legal_document_no_update BEFORE UPDATE OF content, sha256, size, invoice_id,
       submission_round ON invoicing_legaldocument
       BEGIN SELECT RAISE(ABORT, 'an archived legal XML is never changed'); END""",
    """CREATE TRIGGER legal_document_ack_once BEFORE UPDATE OF acknowledged_at ON invoicing_legaldocument
       WHEN OLD.acknowledged_at IS NOT NULL
       BEGIN SELECT RAISE(ABORT, 'an archived legal XML is never changed'); END""",
    """CREATE TRIGGER invoice_event_no_update BEFORE UPDATE ON invoicing_invoiceevent
       BEGIN SELECT RAISE(ABORT, 'invoice history is append-only'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS legal_document_no_update",
    "DROP TRIGGER IF EXISTS legal_document_ack_once",
    "DROP TRIGGER IF EXISTS invoice_event_no_update",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0002_archive_checks_and_activity")]
    operations = [migrations.RunPython(forward, backward)]

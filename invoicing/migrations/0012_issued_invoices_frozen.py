"""Issued means frozen; a number is given at issue; credit notes count negatively.

- A number is given when an invoice leaves the drafts (`invoice_request_send`): drafts lose the
  numbers they were given at creation (never issued, so never part of the legal sequence), and
  the number is unique only among invoices that have one.
- The database refuses to change what an issued invoice says (its number once given, its
  parties, dates, amounts, lines; its routing data except while a routing return is fixed) and
  to delete it; only a draft without a number may be deleted, with its history. SQLite guards
  DELETE in the application only (its flush deletes rows), as for the archive (migration 0003).
- The per-state totals count credit notes apart and subtract their amounts.

SQLite remakes a table to add a column with a default or to change a constraint, dropping its
triggers: every trigger on invoicing_invoice and invoicing_invoiceline is made again at the end.
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

EDITABLE = "('draft', 'failed', 'error')"
CONTENT = ["kind", "credited_invoice_id", "issue_date", "due_date", "currency", "account_id",
           "buyer_id", "iban", "notes", "billing_framework", "subtotal", "tax_amount", "total",
           "payable_amount", "issued_at", "replaces_id"]
ROUTING = ["service_id", "buyer_reference", "po_number", "contract_reference"]
LINE = ["invoice_id", "position", "description", "article_code", "quantity", "unit",
        "unit_price", "vat_category", "vat_rate", "exemption_code", "exemption_reason",
        "line_total", "credited_line_id"]


def _changed(columns, *, pg=True):
    op = "IS DISTINCT FROM" if pg else "IS NOT"
    return " OR ".join(f"NEW.{c} {op} OLD.{c}" for c in columns)


PG_FORWARD = f"""
CREATE OR REPLACE FUNCTION invoicing_invoice_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.state <> 'draft' OR OLD.number <> '' THEN
      RAISE EXCEPTION 'invoice % is issued: it is never deleted', OLD.number;
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.number <> '' AND NEW.number IS DISTINCT FROM OLD.number THEN
    RAISE EXCEPTION 'invoice %: its number never changes', OLD.number;
  END IF;
  IF OLD.state NOT IN {EDITABLE} THEN
    IF {_changed(CONTENT)} THEN
      RAISE EXCEPTION 'invoice % is issued: what it says never changes', OLD.number;
    END IF;
    IF OLD.state <> 'refused' AND ({_changed(ROUTING)}) THEN
      RAISE EXCEPTION 'invoice % is issued: its routing changes only for a routing return',
        OLD.number;
    END IF;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoice_frozen BEFORE UPDATE OR DELETE ON invoicing_invoice
  FOR EACH ROW EXECUTE FUNCTION invoicing_invoice_frozen();

CREATE OR REPLACE FUNCTION invoicing_line_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
      SELECT 1 FROM invoicing_invoice WHERE id = OLD.invoice_id AND state NOT IN {EDITABLE}) THEN
    RAISE EXCEPTION 'the lines of an issued invoice never change';
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
      SELECT 1 FROM invoicing_invoice WHERE id = NEW.invoice_id AND state NOT IN {EDITABLE}) THEN
    RAISE EXCEPTION 'the lines of an issued invoice never change';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoice_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON invoicing_invoiceline
  FOR EACH ROW EXECUTE FUNCTION invoicing_line_frozen();

-- The history is append-only, except that a draft never issued is deleted with its history.
CREATE OR REPLACE FUNCTION invoicing_event_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND EXISTS (
      SELECT 1 FROM invoicing_invoice WHERE id = OLD.invoice_id AND state = 'draft' AND number = '') THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS invoice_event_no_update ON invoicing_invoiceevent;
CREATE TRIGGER invoice_event_no_update BEFORE UPDATE OR DELETE ON invoicing_invoiceevent
  FOR EACH ROW EXECUTE FUNCTION invoicing_event_frozen();

-- Per-state totals: credit notes counted apart, their amounts subtracted.
CREATE OR REPLACE FUNCTION invoicing_state_totals() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE invoicing_invoicestatetotal SET count = count - 1,
           credit_count = credit_count - (CASE WHEN OLD.kind = 'credit_note' THEN 1 ELSE 0 END),
           total = total - (CASE WHEN OLD.kind = 'credit_note' THEN -OLD.total ELSE OLD.total END)
     WHERE account_id = OLD.account_id AND state = OLD.state;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO invoicing_invoicestatetotal (account_id, state, count, credit_count, total)
    VALUES (NEW.account_id, NEW.state, 1, CASE WHEN NEW.kind = 'credit_note' THEN 1 ELSE 0 END,
            CASE WHEN NEW.kind = 'credit_note' THEN -NEW.total ELSE NEW.total END)
    ON CONFLICT (account_id, state)
    DO UPDATE SET count = invoicing_invoicestatetotal.count + 1,
                  credit_count = invoicing_invoicestatetotal.credit_count + EXCLUDED.credit_count,
                  total = invoicing_invoicestatetotal.total + EXCLUDED.total;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS invoice_state_totals_update ON invoicing_invoice;
CREATE TRIGGER invoice_state_totals_update AFTER UPDATE OF account_id, state, total, kind
  ON invoicing_invoice
  FOR EACH ROW WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id OR OLD.state IS DISTINCT FROM NEW.state
                     OR OLD.total IS DISTINCT FROM NEW.total OR OLD.kind IS DISTINCT FROM NEW.kind)
  EXECUTE FUNCTION invoicing_state_totals();
"""

_SIGNED = "CASE WHEN {row}.kind = 'credit_note' THEN -{row}.total ELSE {row}.total END"
_CREDIT = "CASE WHEN {row}.kind = 'credit_note' THEN 1 ELSE 0 END"
_ADD = f"""INSERT INTO invoicing_invoicestatetotal (account_id, state, count, credit_count, total)
    VALUES (NEW.account_id, NEW.state, 1, {_CREDIT.format(row="NEW")}, {_SIGNED.format(row="NEW")})
    ON CONFLICT (account_id, state) DO UPDATE SET count = count + 1,
      credit_count = credit_count + excluded.credit_count, total = total + excluded.total;"""
_REMOVE = f"""UPDATE invoicing_invoicestatetotal SET count = count - 1,
      credit_count = credit_count - ({_CREDIT.format(row="OLD")}),
      total = total - ({_SIGNED.format(row="OLD")})
    WHERE account_id = OLD.account_id AND state = OLD.state;"""
_LINE_FROZEN = ("SELECT RAISE(ABORT, 'the lines of an issued invoice never change')")
SQLITE_FORWARD = [
    """CREATE TRIGGER invoice_frozen_number BEFORE UPDATE OF number ON invoicing_invoice
        WHEN OLD.number <> '' AND NEW.number IS NOT OLD.number
        BEGIN SELECT RAISE(ABORT, 'the number of an invoice never changes'); END""",
    f"""CREATE TRIGGER invoice_frozen BEFORE UPDATE ON invoicing_invoice
        WHEN OLD.state NOT IN {EDITABLE} AND ({_changed(CONTENT, pg=False)})
        BEGIN SELECT RAISE(ABORT, 'an issued invoice never changes what it says'); END""",
    f"""CREATE TRIGGER invoice_frozen_routing BEFORE UPDATE ON invoicing_invoice
        WHEN OLD.state NOT IN {EDITABLE} AND OLD.state <> 'refused'
             AND ({_changed(ROUTING, pg=False)})
        BEGIN SELECT RAISE(ABORT, 'an issued invoice changes its routing only when returned'); END""",
    f"""CREATE TRIGGER invoice_line_frozen_insert BEFORE INSERT ON invoicing_invoiceline
        WHEN EXISTS (SELECT 1 FROM invoicing_invoice WHERE id = NEW.invoice_id
                     AND state NOT IN {EDITABLE})
        BEGIN {_LINE_FROZEN}; END""",
    f"""CREATE TRIGGER invoice_line_frozen_update BEFORE UPDATE ON invoicing_invoiceline
        WHEN EXISTS (SELECT 1 FROM invoicing_invoice WHERE id IN (OLD.invoice_id, NEW.invoice_id)
                     AND state NOT IN {EDITABLE})
        BEGIN {_LINE_FROZEN}; END""",
    "DROP TRIGGER IF EXISTS invoice_state_totals_insert",
    "DROP TRIGGER IF EXISTS invoice_state_totals_delete",
    "DROP TRIGGER IF EXISTS invoice_state_totals_update",
    f"CREATE TRIGGER invoice_state_totals_insert AFTER INSERT ON invoicing_invoice BEGIN {_ADD} END",
    f"CREATE TRIGGER invoice_state_totals_delete AFTER DELETE ON invoicing_invoice BEGIN {_REMOVE} END",
    f"""CREATE TRIGGER invoice_state_totals_update AFTER UPDATE OF account_id, state, total, kind
        ON invoicing_invoice
        WHEN OLD.account_id IS NOT NEW.account_id OR OLD.state IS NOT NEW.state
             OR OLD.total IS NOT NEW.total OR OLD.kind IS NOT NEW.kind
        BEGIN {_REMOVE} {_ADD} END""",
]
REFILL = """DELETE FROM invoicing_invoicestatetotal;
INSERT INTO invoicing_invoicestatetotal (account_id, state, count, credit_count, total)
SELECT account_id, state, COUNT(*), SUM(CASE WHEN kind = 'credit_note' THEN 1 ELSE 0 END),
       COALESCE(SUM(CASE WHEN kind = 'credit_note' THEN -total ELSE total END), 0)
  FROM invoicing_invoice GROUP BY account_id, state"""


def drafts_without_numbers(apps, schema_editor):
    """A draft was numbered at creation; the number now comes at issue. Drafts' numbers were
    never issued: they are given up (the sequence goes on from where it is)."""
    Invoice = apps.get_model("invoicing", "Invoice")
    Invoice.objects.filter(state="draft").exclude(number="").update(number="")


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        # The table remakes above dropped the triggers of migration 0005: made again.
        needs_lines = importlib.import_module("invoicing.migrations.0005_sent_invoice_has_lines")
        schema_editor.execute("DROP TRIGGER IF EXISTS invoice_needs_lines")
        schema_editor.execute(needs_lines.SQLITE_FORWARD)
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    else:
        return
    for statement in REFILL.split(";\n"):
        schema_editor.execute(statement)



class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
        ('directory', '0005_account_in_core'),
        ('invoicing', '0011_attachments_sent_and_pdfs'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='invoice',
            name='invoice_unique_number_per_account',
        ),
        migrations.AddField(
            model_name='invoice',
            name='issued_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='émise le'),
        ),
        migrations.AddField(
            model_name='invoice',
            name='replaces',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='replacements', to='invoicing.invoice', verbose_name='remplace'),
        ),
        migrations.AddField(
            model_name='invoice',
            name='request_key',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='invoiceline',
            name='credited_line',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='credit_lines', to='invoicing.invoiceline'),
        ),
        migrations.AddField(
            model_name='invoiceline',
            name='exemption_code',
            field=models.CharField(blank=True, max_length=30, verbose_name="code d'exonération"),
        ),
        migrations.AddField(
            model_name='invoicestatetotal',
            name='credit_count',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='invoice',
            name='number',
            field=models.CharField(blank=True, max_length=20, verbose_name='numéro'),
        ),
        migrations.RunPython(drafts_without_numbers, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.UniqueConstraint(condition=models.Q(('number', ''), _negated=True), fields=('account', 'number'), name='invoice_unique_number_per_account'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.UniqueConstraint(condition=models.Q(('request_key', ''), _negated=True), fields=('account', 'request_key'), name='invoice_unique_request_key'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('state', 'draft'), models.Q(('number', ''), _negated=True), _connector='OR'), name='invoice_issued_has_number'),
        ),
        migrations.RunPython(triggers, migrations.RunPython.noop),
    ]

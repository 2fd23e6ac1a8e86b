"""The per-state totals are updated in one order: two state changes that cross (one invoice
`queued` -> `submitting` while another goes `submitting` -> `queued`) each lock two totals rows;
taken in whatever order the trigger met them, they deadlocked on PostgreSQL under load (a soak
of 400 invoices with faults). The trigger now locks both rows first, ordered by state, then
updates them. SQLite writes one transaction at a time: nothing to change there.
"""

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION invoicing_state_totals() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM 1 FROM invoicing_invoicestatetotal
     WHERE (account_id = OLD.account_id AND state = OLD.state)
        OR (account_id = NEW.account_id AND state = NEW.state)
     ORDER BY account_id, state
       FOR UPDATE;
  END IF;
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
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0014_legal_url_refused")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]

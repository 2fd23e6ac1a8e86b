"""Every state B2Brouter documents (allegedly_paid, cancelled, annulled, discarded...) fits in
the state columns, and a failed deposit remembers the document to delete before it is created
again.

PostgreSQL will not change the type of a column a trigger depends on: the two triggers that
watch `invoicing_invoice.state` (migrations 0005 and 0006) are dropped and made again around the
change. SQLite does not enforce a varchar's length: its columns stay as they are (remaking the
table there would drop its triggers).
"""

import importlib

from django.db import migrations, models

WIDEN = """
DROP TRIGGER IF EXISTS invoice_needs_lines ON invoicing_invoice;
DROP TRIGGER IF EXISTS invoice_state_totals_update ON invoicing_invoice;
ALTER TABLE invoicing_invoice ALTER COLUMN state TYPE varchar(20);
ALTER TABLE invoicing_invoiceevent ALTER COLUMN from_state TYPE varchar(20);
ALTER TABLE invoicing_invoiceevent ALTER COLUMN to_state TYPE varchar(20);
ALTER TABLE invoicing_invoicestatetotal ALTER COLUMN state TYPE varchar(20);
"""


def widen(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(WIDEN, params=None)
    # The same triggers as before, from the migrations that made them.
    lines = importlib.import_module("invoicing.migrations.0005_sent_invoice_has_lines")
    totals = importlib.import_module("invoicing.migrations.0006_state_totals")
    schema_editor.execute(lines.PG_FORWARD, params=None)
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS invoice_state_totals_insert ON invoicing_invoice;"
        + totals.PG_FORWARD, params=None)



class Migration(migrations.Migration):

    dependencies = [
        ('invoicing', '0008_state_time_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='remote_id_to_delete',
            field=models.BigIntegerField(blank=True, null=True, verbose_name='id B2Brouter à supprimer'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='invoice',
                    name='state',
                    field=models.CharField(choices=[('draft', 'brouillon'), ('queued', "en file d'envoi"), ('submitting', 'transmission en cours'), ('failed', 'refusée par B2Brouter'), ('new', 'créée chez B2Brouter'), ('sending', 'envoi en cours'), ('sent', 'déposée'), ('registered', 'mise à disposition'), ('accepted', 'service fait'), ('refused', 'refusée'), ('allegedly_paid', 'paiement signalé'), ('paid', 'mise en paiement'), ('closed', 'close'), ('error', 'erreur de dépôt'), ('cancelled', 'annulée'), ('annulled', 'invalidée'), ('discarded', 'abandonnée')], db_index=True, default='draft', max_length=20, verbose_name='état'),
                ),
                migrations.AlterField(
                    model_name='invoiceevent',
                    name='from_state',
                    field=models.CharField(blank=True, max_length=20),
                ),
                migrations.AlterField(
                    model_name='invoiceevent',
                    name='to_state',
                    field=models.CharField(blank=True, max_length=20),
                ),
                migrations.AlterField(
                    model_name='invoicestatetotal',
                    name='state',
                    field=models.CharField(max_length=20),
                ),
            ],
            database_operations=[migrations.RunPython(widen, migrations.RunPython.noop)],
        ),
    ]

"""What was received per account, buyer and month (`ReceivedMonth`), kept by the database as
payments are recorded (triggers on finance_payment; a payment is never changed, a counter-entry
subtracts), and filled from the payments there are; and each invoice's last payment date
(`Invoice.last_paid_on`, kept by `finance.services.payments` from now on)."""

from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models


def _part(row: str, sign: str, pg: bool) -> str:
    month = (f"date_trunc('month', {row}.received_on)::date" if pg
             else f"date({row}.received_on, 'start of month')")
    return f"""INSERT INTO finance_receivedmonth (account_id, buyer_id, month, received)
        SELECT {row}.account_id,
               (SELECT buyer_id FROM invoicing_invoice WHERE id = {row}.invoice_id),
               {month}, {sign} * {row}.amount
        WHERE true
        ON CONFLICT (account_id, buyer_id, month)
        DO UPDATE SET received = finance_receivedmonth.received + excluded.received"""


PG_FORWARD = f"""
CREATE OR REPLACE FUNCTION finance_received_month() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    {_part("OLD", "-1", True)};
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_part("NEW", "1", True)};
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS payment_received_month ON finance_payment;
CREATE TRIGGER payment_received_month AFTER INSERT OR DELETE OR UPDATE OF account_id,
  invoice_id, received_on, amount ON finance_payment
  FOR EACH ROW EXECUTE FUNCTION finance_received_month();
"""
PG_BACKWARD = """DROP TRIGGER IF EXISTS payment_received_month ON finance_payment;
DROP FUNCTION IF EXISTS finance_received_month();"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER payment_received_month_insert AFTER INSERT ON finance_payment
        BEGIN {_part("NEW", "1", False)}; END""",
    f"""CREATE TRIGGER payment_received_month_delete AFTER DELETE ON finance_payment
        BEGIN {_part("OLD", "-1", False)}; END""",
    f"""CREATE TRIGGER payment_received_month_update AFTER UPDATE OF account_id, invoice_id,
        received_on, amount ON finance_payment
        BEGIN {_part("OLD", "-1", False)}; {_part("NEW", "1", False)}; END""",
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS payment_received_month_{e}"
                   for e in ("insert", "delete", "update")]


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD + SQLITE_FORWARD:
            schema_editor.execute(statement, params=None)


def no_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement, params=None)


def filled(apps, schema_editor):
    """The months' receipts from the payments there are; each invoice's last payment date (the
    invoices' trigger counts those it settles)."""
    Payment = apps.get_model("finance", "Payment")
    Invoice = apps.get_model("invoicing", "Invoice")
    ReceivedMonth = apps.get_model("finance", "ReceivedMonth")
    months = {}
    for account, buyer, received_on, amount in (
            Payment.objects.values_list("account_id", "invoice__buyer_id", "received_on",
                                        "amount").iterator(chunk_size=5000)):
        key = (account, buyer, received_on.replace(day=1))
        months[key] = months.get(key, Decimal(0)) + amount
    ReceivedMonth.objects.bulk_create(
        [ReceivedMonth(account_id=k[0], buyer_id=k[1], month=k[2], received=v)
         for k, v in months.items()], batch_size=2000)
    last = (Payment.objects.filter(reverses__isnull=True, reversed_by__isnull=True)
            .values("invoice_id").annotate(last=models.Max("received_on")))
    for row in last.iterator(chunk_size=5000):
        Invoice.objects.filter(pk=row["invoice_id"]).update(last_paid_on=row["last"])


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_books_accounts'),
        ('directory', '0009_buyer_billing_email'),
        ('finance', '0003_received_amounts'),
        ('invoicing', '0026_money_figures'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReceivedMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(verbose_name='mois')),
                ('received', models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name='reçu')),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.account', verbose_name='compte')),
                ('buyer', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='directory.buyer', verbose_name='acheteur')),
            ],
            options={
                'verbose_name': 'reçu du mois',
                'verbose_name_plural': 'reçus par mois',
                'constraints': [models.UniqueConstraint(fields=('account', 'buyer', 'month'), name='received_month_unique')],
            },
        ),
        migrations.RunPython(filled, migrations.RunPython.noop),
        migrations.RunPython(triggers, no_triggers),
    ]

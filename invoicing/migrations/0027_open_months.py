"""What is left to pay, also per month of the due date (`OpenMonth`): the ageing's "over 90
days" column reads a row per buyer and month for the months wholly behind it, not a row per due
date. The triggers of migration 0026 made again with the month's part; filled from
`OpenAmount`."""

import importlib
from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models

M26 = importlib.import_module("invoicing.migrations.0026_money_figures")


def _month_sql(row: str, sign: str, pg: bool) -> list[str]:
    if pg:
        due_month = f"date_trunc('month', COALESCE({row}.due_date, DATE '9999-12-31'))::date"
    else:
        due_month = f"date(COALESCE({row}.due_date, '9999-12-31'), 'start of month')"
    r = row
    counted = f"{r}.number <> '' AND {r}.state NOT IN {M26.NOT_COUNTED}"
    left = (f"({r}.payable_amount - COALESCE({r}.credited_amount, 0) "
            f"- COALESCE({r}.received_amount, 0))")
    return [
        f"""INSERT INTO invoicing_openmonth (account_id, buyer_id, due_month, amount, invoices)
            SELECT {r}.account_id, {r}.buyer_id, {due_month}, {sign} * {left}, {sign}
            WHERE {counted} AND {r}.kind = 'invoice' AND {left} > 0
            ON CONFLICT (account_id, buyer_id, due_month)
            DO UPDATE SET amount = invoicing_openmonth.amount + excluded.amount,
                          invoices = invoicing_openmonth.invoices + excluded.invoices""",
        f"""DELETE FROM invoicing_openmonth WHERE account_id = {r}.account_id
            AND buyer_id = {r}.buyer_id AND due_month = {due_month} AND invoices = 0""",
    ]


def _sql(row: str, sign: str, pg: bool) -> list[str]:
    return M26._sql(row, sign, pg) + _month_sql(row, sign, pg)


PG_FORWARD = M26.pg_forward(_sql)
SQLITE_FORWARD = M26.sqlite_forward(_sql)


def triggers(apps, schema_editor):
    M26.triggers(apps, schema_editor, pg=PG_FORWARD, sqlite=SQLITE_FORWARD)


def triggers_back(apps, schema_editor):
    M26.triggers(apps, schema_editor)


def filled(apps, schema_editor):
    OpenAmount = apps.get_model("invoicing", "OpenAmount")
    OpenMonth = apps.get_model("invoicing", "OpenMonth")
    months: dict = {}
    for account, buyer, due, amount, count in OpenAmount.objects.filter(invoices__gt=0) \
            .values_list("account_id", "buyer_id", "due_date", "amount", "invoices") \
            .iterator(chunk_size=5000):
        key = (account, buyer, due.replace(day=1))
        total, invoices = months.get(key, (0, 0))
        months[key] = (total + amount, invoices + count)
    OpenMonth.objects.bulk_create(
        [OpenMonth(account_id=k[0], buyer_id=k[1], due_month=k[2], amount=a, invoices=n)
         for k, (a, n) in months.items()], batch_size=2000)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_books_accounts'),
        ('directory', '0009_buyer_billing_email'),
        ('invoicing', '0026_money_figures'),
    ]

    operations = [
        migrations.CreateModel(
            name='OpenMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('due_month', models.DateField(verbose_name="mois d'échéance")),
                ('amount', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=18, verbose_name='reste dû')),
                ('invoices', models.BigIntegerField(default=0, verbose_name='factures')),
            ],
            options={
                'verbose_name': "reste dû par mois d'échéance",
                'verbose_name_plural': "restes dus par mois d'échéance",
            },
        ),
        migrations.AddIndex(
            model_name='openamount',
            index=models.Index(fields=['account', 'due_date'], include=('buyer', 'amount', 'invoices'), name='open_amount_due'),
        ),
        migrations.AddField(
            model_name='openmonth',
            name='account',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.account', verbose_name='compte'),
        ),
        migrations.AddField(
            model_name='openmonth',
            name='buyer',
            field=models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='directory.buyer', verbose_name='acheteur'),
        ),
        migrations.AddIndex(
            model_name='openmonth',
            index=models.Index(fields=['account', 'due_month'], include=('buyer', 'amount', 'invoices'), name='open_month_due'),
        ),
        migrations.AddConstraint(
            model_name='openmonth',
            constraint=models.UniqueConstraint(fields=('account', 'buyer', 'due_month'), name='open_month_unique'),
        ),
        migrations.RunPython(filled, migrations.RunPython.noop),
        migrations.RunPython(triggers, triggers_back),
    ]

"""The dashboard's and the aged balance's figures kept by the database as invoices change:
`MonthTotal` (invoiced per month, invoices settled per month with their days) and `OpenAmount`
(what is left to pay per due date), per account and buyer, by triggers on invoicing_invoice,
as the per-state totals (migration 0012). An invoice's part is taken off under its old values
and added under its new ones only when what it counts for changes (its state between owed and
not, its amounts, dates, buyer): the usual moves of its life write nothing here.

Filled from the invoices there are. SQLite's triggers are made again by any later migration that
remakes invoicing_invoice (`SQLITE_FORWARD`).
"""

import datetime
from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models

NOT_COUNTED_STATES = ("draft", "queued", "submitting", "failed", "cancelled", "annulled",
                      "discarded")
NOT_COUNTED = "(" + ", ".join(f"'{state}'" for state in NOT_COUNTED_STATES) + ")"
WATCHED = ["account_id", "buyer_id", "kind", "number", "issue_date", "due_date", "total",
           "payable_amount", "credited_amount", "received_amount", "last_paid_on"]


def _sql(row: str, sign: str, pg: bool) -> list[str]:
    """The statements that add `row`'s part (OLD or NEW) times `sign` (1 or -1)."""
    if pg:
        month = "date_trunc('month', {d})::date"
        days = "({a} - {b})"
        due = f"COALESCE({row}.due_date, DATE '9999-12-31')"
    else:
        month = "date({d}, 'start of month')"
        days = "CAST(julianday({a}) - julianday({b}) AS INTEGER)"
        due = f"COALESCE({row}.due_date, '9999-12-31')"
    r = row
    counted = f"{r}.number <> '' AND {r}.state NOT IN {NOT_COUNTED}"
    left = (f"({r}.payable_amount - COALESCE({r}.credited_amount, 0) "
            f"- COALESCE({r}.received_amount, 0))")
    signed = f"(CASE WHEN {r}.kind = 'credit_note' THEN -{r}.total ELSE {r}.total END)"
    return [
        f"""INSERT INTO invoicing_monthtotal (account_id, buyer_id, month, invoiced, settled,
              settled_days)
            SELECT {r}.account_id, {r}.buyer_id, {month.format(d=f"{r}.issue_date")},
                   {sign} * {signed}, 0, 0
            WHERE {counted} AND {r}.issue_date IS NOT NULL
            ON CONFLICT (account_id, buyer_id, month)
            DO UPDATE SET invoiced = invoicing_monthtotal.invoiced + excluded.invoiced""",
        f"""INSERT INTO invoicing_monthtotal (account_id, buyer_id, month, invoiced, settled,
              settled_days)
            SELECT {r}.account_id, {r}.buyer_id, {month.format(d=f"{r}.last_paid_on")}, 0,
                   {sign}, {sign} * {days.format(a=f"{r}.last_paid_on", b=f"{r}.issue_date")}
            WHERE {counted} AND {r}.kind = 'invoice' AND {left} <= 0
              AND COALESCE({r}.received_amount, 0) > 0 AND {r}.last_paid_on IS NOT NULL
              AND {r}.issue_date IS NOT NULL
            ON CONFLICT (account_id, buyer_id, month)
            DO UPDATE SET settled = invoicing_monthtotal.settled + excluded.settled,
                          settled_days = invoicing_monthtotal.settled_days + excluded.settled_days""",
        f"""INSERT INTO invoicing_openamount (account_id, buyer_id, due_date, amount, invoices)
            SELECT {r}.account_id, {r}.buyer_id, {due}, {sign} * {left}, {sign}
            WHERE {counted} AND {r}.kind = 'invoice' AND {left} > 0
            ON CONFLICT (account_id, buyer_id, due_date)
            DO UPDATE SET amount = invoicing_openamount.amount + excluded.amount,
                          invoices = invoicing_openamount.invoices + excluded.invoices""",
        f"""DELETE FROM invoicing_openamount WHERE account_id = {r}.account_id
            AND buyer_id = {r}.buyer_id AND due_date = {due} AND invoices = 0""",
    ]


def _differs(pg: bool) -> str:
    op = "IS DISTINCT FROM" if pg else "IS NOT"
    parts = [f"OLD.{c} {op} NEW.{c}" for c in WATCHED]
    parts.append(f"(OLD.state IN {NOT_COUNTED}) {op} (NEW.state IN {NOT_COUNTED})")
    return " OR ".join(parts)


def pg_forward(sql) -> str:
    """The trigger function and its trigger, each part's statements from `sql(row, sign, pg)`
    (migration 0027 makes them again with one more part)."""
    def body(row: str, sign: str) -> str:
        return ";\n    ".join(sql(row, sign, True)) + ";"

    return f"""
CREATE OR REPLACE FUNCTION invoicing_money_figures() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND ({_differs(True)})) THEN
    {body("OLD", "-1")}
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND ({_differs(True)})) THEN
    {body("NEW", "1")}
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS invoice_money_figures ON invoicing_invoice;
CREATE TRIGGER invoice_money_figures
  AFTER INSERT OR DELETE OR UPDATE OF state, {", ".join(WATCHED)} ON invoicing_invoice
  FOR EACH ROW EXECUTE FUNCTION invoicing_money_figures();
"""


PG_FORWARD = pg_forward(_sql)
PG_BACKWARD = """DROP TRIGGER IF EXISTS invoice_money_figures ON invoicing_invoice;
DROP FUNCTION IF EXISTS invoicing_money_figures();"""


def sqlite_forward(sql) -> list[str]:
    """SQLite's three triggers (no functions there), each part's statements from `sql`."""
    def trigger(name: str, event: str, parts: list[tuple[str, str]], when: str = "") -> str:
        body = "; ".join(stmt for row, sign in parts for stmt in sql(row, sign, False))
        return (f"CREATE TRIGGER {name} AFTER {event} ON invoicing_invoice "
                f"{'WHEN ' + when if when else ''} BEGIN {body}; END")

    return [
        trigger("invoice_money_figures_insert", "INSERT", [("NEW", "1")]),
        trigger("invoice_money_figures_delete", "DELETE", [("OLD", "-1")]),
        trigger("invoice_money_figures_update", "UPDATE", [("OLD", "-1"), ("NEW", "1")],
                when=_differs(False)),
    ]


SQLITE_FORWARD = sqlite_forward(_sql)
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS invoice_money_figures_{e}"
                   for e in ("insert", "delete", "update")]


def triggers(apps, schema_editor, pg=PG_FORWARD, sqlite=SQLITE_FORWARD):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(pg, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD + sqlite:
            schema_editor.execute(statement, params=None)


def no_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement, params=None)


def filled(apps, schema_editor):
    """Every issued invoice's part, added up as the triggers would have (before they exist)."""
    Invoice = apps.get_model("invoicing", "Invoice")
    MonthTotal = apps.get_model("invoicing", "MonthTotal")
    OpenAmount = apps.get_model("invoicing", "OpenAmount")
    months, settled, open_ = {}, {}, {}
    rows = (Invoice.objects.exclude(number="").exclude(state__in=NOT_COUNTED_STATES)
            .values_list("account_id", "buyer_id", "kind", "issue_date", "due_date", "total",
                         "payable_amount", "credited_amount", "received_amount", "last_paid_on")
            .iterator(chunk_size=5000))
    for account, buyer, kind, issued, due, total, payable, credited, received, paid in rows:
        if issued is not None:
            key = (account, buyer, issued.replace(day=1))
            months[key] = months.get(key, Decimal(0)) + (-total if kind == "credit_note" else total)
        if kind != "invoice":
            continue
        left = payable - (credited or 0) - (received or 0)
        if left > 0:
            key = (account, buyer, due or datetime.date(9999, 12, 31))
            amount, count = open_.get(key, (Decimal(0), 0))
            open_[key] = (amount + left, count + 1)
        elif (received or 0) > 0 and paid and issued:
            key = (account, buyer, paid.replace(day=1))
            count, days = settled.get(key, (0, 0))
            settled[key] = (count + 1, days + (paid - issued).days)
    totals = []
    for key in set(months) | set(settled):
        count, days = settled.get(key, (0, 0))
        totals.append(MonthTotal(account_id=key[0], buyer_id=key[1], month=key[2],
                                 invoiced=months.get(key, Decimal(0)), settled=count,
                                 settled_days=days))
    MonthTotal.objects.bulk_create(totals, batch_size=2000)
    OpenAmount.objects.bulk_create(
        [OpenAmount(account_id=k[0], buyer_id=k[1], due_date=k[2], amount=a, invoices=n)
         for k, (a, n) in open_.items()], batch_size=2000)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_books_accounts'),
        ('directory', '0009_buyer_billing_email'),
        ('invoicing', '0025_open_balance'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='last_paid_on',
            field=models.DateField(blank=True, editable=False, null=True, verbose_name='dernier paiement le'),
        ),
        migrations.CreateModel(
            name='MonthTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(verbose_name='mois')),
                ('invoiced', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=18, verbose_name='facturé')),
                ('settled', models.BigIntegerField(default=0, verbose_name='factures réglées')),
                ('settled_days', models.BigIntegerField(default=0, verbose_name="jours jusqu'au règlement")),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.account', verbose_name='compte')),
                ('buyer', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='directory.buyer', verbose_name='acheteur')),
            ],
            options={
                'verbose_name': 'total du mois',
                'verbose_name_plural': 'totaux par mois',
                'constraints': [models.UniqueConstraint(fields=('account', 'buyer', 'month'), name='month_total_unique')],
            },
        ),
        migrations.CreateModel(
            name='OpenAmount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('due_date', models.DateField(verbose_name='échéance')),
                ('amount', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=18, verbose_name='reste dû')),
                ('invoices', models.BigIntegerField(default=0, verbose_name='factures')),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.account', verbose_name='compte')),
                ('buyer', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='directory.buyer', verbose_name='acheteur')),
            ],
            options={
                'verbose_name': 'reste dû par échéance',
                'verbose_name_plural': 'restes dus par échéance',
                'constraints': [models.UniqueConstraint(fields=('account', 'buyer', 'due_date'), name='open_amount_unique')],
            },
        ),
        migrations.RunPython(filled, migrations.RunPython.noop),
        migrations.RunPython(triggers, no_triggers),
    ]

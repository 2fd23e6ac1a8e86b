"""What is left to pay, kept on the invoice: what its issued credit notes take off
(`credited_amount`, filled here from the credit notes there are) and what was received
(`received_amount`, filled by finance's migration 0003); an index of the invoices with something
left to pay. Nullable columns without a default: SQLite adds them without remaking the table
(and so keeps its triggers)."""

from decimal import Decimal

import django.db.models.expressions
import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models

NOT_COUNTED = ("draft", "queued", "submitting", "failed", "cancelled", "annulled", "discarded",
               "refused")


def credited_amounts(apps, schema_editor):
    Invoice = apps.get_model("invoicing", "Invoice")
    counted = (Invoice.objects.filter(credited_invoice=models.OuterRef("pk"), kind="credit_note")
               .exclude(state__in=NOT_COUNTED).exclude(number="").order_by()
               .values("credited_invoice").annotate(sum=models.Sum("total")).values("sum"))
    credited = (Invoice.objects.filter(kind="credit_note").exclude(credited_invoice=None)
                .values_list("credited_invoice", flat=True).distinct())
    Invoice.objects.filter(pk__in=list(credited)).update(credited_amount=models.Subquery(counted))


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_books_accounts'),
        ('directory', '0009_buyer_billing_email'),
        ('invoicing', '0024_company_invoices_and_tax_reports'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='credited_amount',
            field=models.DecimalField(blank=True, decimal_places=2, editable=False, max_digits=14, null=True, verbose_name='crédité par avoirs'),
        ),
        migrations.AddField(
            model_name='invoice',
            name='received_amount',
            field=models.DecimalField(blank=True, decimal_places=2, editable=False, max_digits=14, null=True, verbose_name='reçu'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('kind', 'invoice'), ('payable_amount__gt', django.db.models.expressions.CombinedExpression(django.db.models.functions.comparison.Coalesce(models.F('credited_amount'), models.Value(Decimal('0.00'))), '+', django.db.models.functions.comparison.Coalesce(models.F('received_amount'), models.Value(Decimal('0.00')))))), fields=['account', 'due_date'], include=('buyer', 'payable_amount', 'credited_amount', 'received_amount', 'state', 'number'), name='invoice_open'),
        ),
        migrations.RunPython(credited_amounts, migrations.RunPython.noop),
    ]

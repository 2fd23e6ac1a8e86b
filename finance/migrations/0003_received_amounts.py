"""What was received on each invoice, written on it (`Invoice.received_amount`, kept by
`finance.services.payments` from now on) from the payments recorded so far."""

from django.db import migrations, models


def received_amounts(apps, schema_editor):
    Invoice = apps.get_model("invoicing", "Invoice")
    Payment = apps.get_model("finance", "Payment")
    received = (Payment.objects.filter(invoice=models.OuterRef("pk")).order_by()
                .values("invoice").annotate(sum=models.Sum("amount")).values("sum"))
    paid = Payment.objects.values_list("invoice", flat=True).distinct()
    Invoice.objects.filter(pk__in=list(paid)).update(received_amount=models.Subquery(received))


class Migration(migrations.Migration):

    dependencies = [
        ('finance', '0002_reminders'),
        ('invoicing', '0025_open_balance'),
    ]

    operations = [
        migrations.RunPython(received_amounts, migrations.RunPython.noop),
    ]

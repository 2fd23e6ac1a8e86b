"""The account moves to `core` (the same table, `invoicing_account`): the foreign keys point at
`core.Account`, and `invoicing.Account` leaves Django's state. Nothing changes in the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("invoicing", "0009_documented_states"),
        ("core", "0001_initial"),
        ("directory", "0005_account_in_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="invoice",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                            related_name="invoices", to="core.account"),
                ),
                migrations.AlterField(
                    model_name="legaldocument",
                    name="account",
                    field=models.ForeignKey(editable=False, null=True,
                                            on_delete=django.db.models.deletion.PROTECT,
                                            related_name="+", to="core.account"),
                ),
                migrations.AlterField(
                    model_name="synccursor",
                    name="account",
                    field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                               related_name="sync_cursor", to="core.account"),
                ),
                migrations.AlterField(
                    model_name="invoicestatetotal",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                            related_name="state_totals", to="core.account"),
                ),
                migrations.DeleteModel(name="Account"),
            ],
            database_operations=[],
        ),
    ]

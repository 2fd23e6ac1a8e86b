"""The buyer's account is `core.Account` now (the same table): state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("directory", "0004_contact_integration_code_and_manual_rules"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="buyer",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                            related_name="buyers", to="core.account",
                                            verbose_name="compte"),
                ),
            ],
            database_operations=[],
        ),
    ]

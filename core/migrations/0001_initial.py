"""The account moves from `invoicing` to `core`: in Django's state only, its table
(`invoicing_account`, made by invoicing's first migration) stays as it is, data included."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("invoicing", "0009_documented_states"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Account',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('remote_id', models.BigIntegerField(blank=True, null=True, unique=True, verbose_name='id compte B2Brouter')),
                        ('name', models.CharField(max_length=200, verbose_name='raison sociale')),
                        ('siret', models.CharField(max_length=14, verbose_name='SIRET')),
                        ('vat_number', models.CharField(max_length=20, verbose_name='n° TVA')),
                        ('address', models.CharField(max_length=200, verbose_name='adresse')),
                        ('city', models.CharField(max_length=100, verbose_name='ville')),
                        ('postalcode', models.CharField(max_length=10, verbose_name='code postal')),
                        ('province', models.CharField(blank=True, max_length=100, verbose_name='région')),
                        ('country', models.CharField(default='fr', max_length=2, verbose_name='pays')),
                        ('email', models.EmailField(blank=True, max_length=254, verbose_name='e-mail')),
                        ('iban', models.CharField(blank=True, max_length=34, verbose_name='IBAN')),
                        ('rounding_method', models.CharField(default='half_up', max_length=20, verbose_name='arrondi')),
                        ('environment', models.CharField(choices=[('staging', 'recette (staging)'), ('production', 'production')], default='staging', max_length=12, verbose_name='environnement')),
                        ('payment_terms_days', models.PositiveSmallIntegerField(default=30, verbose_name='délai de paiement (jours)')),
                        ('invoice_number_prefix', models.CharField(blank=True, max_length=8, verbose_name='préfixe des numéros')),
                        ('next_invoice_sequence', models.PositiveIntegerField(default=1, verbose_name='prochain numéro')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('users', models.ManyToManyField(blank=True, related_name='accounts', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'invoicing_account',
                        'verbose_name': 'compte',
                        'verbose_name_plural': 'comptes',
                        'ordering': ['name'],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]

"""The supplier's accounts: one per company that bills public buyers, each a B2Brouter account."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Account(models.Model):
    """Our company's B2Brouter account: the seller on every invoice."""

    class Environment(models.TextChoices):
        STAGING = "staging", _("recette (staging)")
        PRODUCTION = "production", _("production")

    remote_id = models.BigIntegerField(_("id compte B2Brouter"), null=True, blank=True, unique=True)
    name = models.CharField(_("raison sociale"), max_length=200)
    siret = models.CharField(_("SIRET"), max_length=14)
    vat_number = models.CharField(_("n° TVA"), max_length=20)
    address = models.CharField(_("adresse"), max_length=200)
    city = models.CharField(_("ville"), max_length=100)
    postalcode = models.CharField(_("code postal"), max_length=10)
    province = models.CharField(_("région"), max_length=100, blank=True)
    country = models.CharField(_("pays"), max_length=2, default="fr")
    email = models.EmailField(_("e-mail"), blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    rounding_method = models.CharField(_("arrondi"), max_length=20, default="half_up")
    environment = models.CharField(
        _("environnement"), max_length=12, choices=Environment.choices, default=Environment.STAGING
    )
    payment_terms_days = models.PositiveSmallIntegerField(_("délai de paiement (jours)"), default=30)
    invoice_number_prefix = models.CharField(_("préfixe des numéros"), max_length=8, blank=True)
    next_invoice_sequence = models.PositiveIntegerField(_("prochain numéro"), default=1)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="accounts", blank=True, verbose_name=_("utilisateurs"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("créé le"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("modifié le"))

    class Meta:
        # The table keeps its first name: the model moved from `invoicing`, the data did not.
        db_table = "invoicing_account"
        verbose_name = _("compte")
        verbose_name_plural = _("comptes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

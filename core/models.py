"""The supplier's accounts: one per company that bills public buyers, each a B2Brouter account."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReformState(models.TextChoices):
    INACTIVE = "inactive", _("non activée")
    ACTIVE = "active", _("activée")
    FAILED = "failed", _("activation refusée")


class Operation(models.TextChoices):
    """The category of operation an invoice to a company states (décret 2022-1299)."""

    GOODS = "goods", _("livraisons de biens")
    SERVICES = "services", _("prestations de services")
    MIXED = "mixed", _("mixte (biens et services)")


class EnterpriseSize(models.TextChoices):
    MICRO = "micro", _("microentreprise")
    PME = "pme", _("PME")
    ETI = "eti", _("ETI")
    GE = "ge", _("grande entreprise")


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
    # The French e-invoicing reform: the account activated at B2Brouter (its `dgfip` tax-report
    # setting) to bill French companies. See invoicing.services.reform.
    reform_state = models.CharField(_("facturation électronique entre entreprises"), max_length=10,
                                    choices=ReformState.choices, default=ReformState.INACTIVE)
    reform_start_date = models.DateField(_("factures aux entreprises à partir du"), null=True,
                                         blank=True)
    reform_operation = models.CharField(_("type d'opérations"), max_length=10,
                                        choices=Operation.choices, blank=True)
    naf_code = models.CharField(_("code NAF (2 chiffres)"), max_length=2, blank=True)
    enterprise_size = models.CharField(_("taille de l'entreprise"), max_length=5,
                                       choices=EnterpriseSize.choices, blank=True)
    vat_exempt_reason = models.CharField(_("motif d'exonération de TVA par défaut"),
                                         max_length=30, blank=True)
    reform_error = models.TextField(_("erreur à l'activation"), blank=True)
    reform_activated_at = models.DateTimeField(_("activée le"), null=True, blank=True)
    # The books (FEC export): journals and accounts of the Plan comptable général, as the
    # accountant wants them.
    fec_sales_journal = models.CharField(_("journal des ventes"), max_length=10, default="VT")
    fec_bank_journal = models.CharField(_("journal de banque"), max_length=10, default="BQ")
    fec_customer_account = models.CharField(_("compte clients"), max_length=20, default="411000")
    fec_services_account = models.CharField(_("compte de ventes (prestations de services)"),
                                            max_length=20, default="706000")
    fec_goods_account = models.CharField(_("compte de ventes (marchandises)"), max_length=20,
                                         default="707000")
    fec_vat_account = models.CharField(_("compte de TVA collectée"), max_length=20,
                                       default="445710")
    fec_bank_account = models.CharField(_("compte de banque"), max_length=20, default="512000")
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

    @property
    def siren(self) -> str:
        return (self.siret or "")[:9]

    def bills_companies_from(self):
        """The first day invoices to companies may be issued, or None (not activated)."""
        return self.reform_start_date if self.reform_state == ReformState.ACTIVE else None


def _export_path(instance: "ExportJob", filename: str) -> str:
    return f"exports/{filename}"


class ExportJob(models.Model):
    """A file too big to make while the page waits (the invoice list of a year, a period's
    archive), made by a worker (`core.exports`): the person who asked sees its progress, may
    leave the page, and downloads it once ready. Kept EXPORT_KEEP_HOURS, for the users of the
    accounts it covers."""

    class Status(models.TextChoices):
        PENDING = "pending", _("en attente")
        RUNNING = "running", _("en préparation")
        READY = "ready", _("prêt")
        FAILED = "failed", _("échoué")

    kind = models.CharField(_("export"), max_length=40)
    params = models.JSONField(_("filtres"), default=dict)
    language = models.CharField(_("langue"), max_length=8, default="fr")
    account_ids = models.JSONField(_("comptes"), default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+", verbose_name=_("demandé par"))
    status = models.CharField(_("état"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    done = models.BigIntegerField(_("fait"), default=0)
    total = models.BigIntegerField(_("à faire"), default=0)
    file = models.FileField(_("fichier"), upload_to=_export_path, blank=True)
    file_name = models.CharField(_("nom du fichier"), max_length=200, blank=True)
    size = models.BigIntegerField(_("taille"), default=0)
    error = models.TextField(_("erreur"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("essais"), default=0)
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    expires_at = models.DateTimeField(_("gardé jusqu'au"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        return min(99, int(self.done * 100 / self.total)) if self.total else 0

"""Money in: the payments received on an invoice, recorded by finance, never changed or deleted
(a mistake is reversed by a counter-entry); and, for an invoice to a company, the report of its
payment to B2Brouter where the reform asks it (`finance.services.payments`)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from invoicing.models import PerBuyer


class Payment(models.Model):
    class Means(models.TextChoices):
        TRANSFER = "transfer", _("virement")
        DIRECT_DEBIT = "direct_debit", _("prélèvement")
        CHEQUE = "cheque", _("chèque")
        CARD = "card", _("carte bancaire")
        CASH = "cash", _("espèces")
        OTHER = "other", _("autre")

    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT,
                                related_name="payments", verbose_name=_("facture"))
    account = models.ForeignKey("core.Account", on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("compte"))
    received_on = models.DateField(_("reçu le"))
    # Positive for money received; negative for the counter-entry that reverses a payment.
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2)
    means = models.CharField(_("moyen de paiement"), max_length=15, choices=Means.choices,
                             default=Means.TRANSFER)
    reference = models.CharField(_("référence bancaire"), max_length=140, blank=True)
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="reversed_by", verbose_name=_("annule"))
    note = models.CharField(_("motif"), max_length=200, blank=True)
    # The form's one-time key: the same form sent twice records one payment.
    request_key = models.CharField(max_length=64, blank=True, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, related_name="+", verbose_name=_("saisi par"))
    recorded_at = models.DateTimeField(_("saisi le"), auto_now_add=True)

    class Meta:
        verbose_name = _("paiement reçu")
        verbose_name_plural = _("paiements reçus")
        ordering = ["received_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "request_key"],
                                    condition=~Q(request_key=""), name="payment_once_per_form"),
            models.CheckConstraint(condition=~Q(amount=0), name="payment_not_zero"),
            models.CheckConstraint(condition=Q(reverses__isnull=True) | Q(amount__lt=0),
                                   name="payment_reversal_negative"),
        ]
        # The latest payments first (a buyer's page, the books' period), walked in order.
        indexes = [models.Index(fields=["account", "-received_on", "-id"],
                                name="payment_account_received")]

    def __str__(self) -> str:
        return f"{self.invoice} {self.amount} ({self.received_on})"

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None


class PaymentReport(models.Model):
    """The report to B2Brouter that a company's invoice was paid (`mark_as` paid), made once per
    invoice by a worker: pending until B2Brouter took it, with its answer."""

    class Status(models.TextChoices):
        PENDING = "pending", _("à transmettre")
        DONE = "done", _("transmis")
        REFUSED = "refused", _("refusé par B2Brouter")

    invoice = models.OneToOneField("invoicing.Invoice", on_delete=models.PROTECT,
                                   related_name="payment_report", verbose_name=_("facture"))
    paid_on = models.DateField(_("payée le"))
    status = models.CharField(_("état"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("essais"), default=0)
    # When a worker last took it (or it was handed to one again): see `payment_reports_resume`.
    tried_at = models.DateTimeField(_("tenté le"), null=True, blank=True)
    answer = models.TextField(_("réponse de B2Brouter"), blank=True)
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)
    done_at = models.DateTimeField(_("transmis le"), null=True, blank=True)

    class Meta:
        verbose_name = _("paiement signalé à B2Brouter")
        verbose_name_plural = _("paiements signalés à B2Brouter")

    def __str__(self) -> str:
        return f"{self.invoice} — {self.get_status_display()}"


class Reminder(models.Model):
    """A reminder of late payment sent to the buyer, as it was sent (never changed)."""

    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT,
                                related_name="reminders", verbose_name=_("facture"))
    rank = models.PositiveSmallIntegerField(_("relance n°"))
    to = models.EmailField(_("destinataire"))
    language = models.CharField(_("langue"), max_length=8)
    subject = models.CharField(_("objet"), max_length=200)
    body = models.TextField(_("message"))
    interest = models.DecimalField(_("intérêts de retard"), max_digits=14, decimal_places=2)
    request_key = models.CharField(max_length=64, blank=True, editable=False)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                related_name="+", verbose_name=_("envoyée par"))
    sent_at = models.DateTimeField(_("envoyée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("relance")
        verbose_name_plural = _("relances")
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "rank"], name="reminder_rank_once"),
            models.UniqueConstraint(fields=["invoice", "request_key"],
                                    condition=~Q(request_key=""), name="reminder_once_per_form"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} — {self.rank}"


class ReceivedMonth(PerBuyer):
    """Per account, buyer and month: what was received (counter-entries subtracted). Kept by
    the database itself (triggers on finance_payment, migration 0004), so that the dashboard
    reads a few rows whatever the number of payments."""

    month = models.DateField(_("mois"))
    received = models.DecimalField(_("reçu"), max_digits=18, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("reçu du mois")
        verbose_name_plural = _("reçus par mois")
        constraints = [models.UniqueConstraint(fields=["account", "buyer", "month"],
                                               name="received_month_unique")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.buyer_id} {self.month}: {self.received}"


class BankCsvLayout(models.Model):
    """How the account's bank writes its CSV statements, said once: which column holds what
    (`finance.bank_csv`). A file whose header has these columns is read with it at once."""

    class Dates(models.TextChoices):
        DMY = "dmy", _("jj/mm/aaaa")
        YMD = "ymd", _("aaaa-mm-jj")
        MDY = "mdy", _("mm/jj/aaaa")

    account = models.OneToOneField("core.Account", on_delete=models.CASCADE, related_name="+",
                                   verbose_name=_("compte"))
    date_column = models.CharField(_("colonne de la date"), max_length=100)
    amount_column = models.CharField(_("colonne du montant"), max_length=100, blank=True)
    credit_column = models.CharField(_("colonne des crédits"), max_length=100, blank=True)
    label_column = models.CharField(_("colonne du libellé"), max_length=100, blank=True)
    reference_column = models.CharField(_("colonne de la référence"), max_length=100,
                                        blank=True)
    payer_column = models.CharField(_("colonne du tiers"), max_length=100, blank=True)
    dates = models.CharField(_("format des dates"), max_length=3, choices=Dates.choices,
                             default=Dates.DMY)
    decimal_comma = models.BooleanField(_("virgule décimale"), default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, related_name="+", verbose_name=_("dit par"))
    updated_at = models.DateTimeField(_("dit le"), auto_now=True)

    class Meta:
        verbose_name = _("colonnes du relevé bancaire CSV")
        verbose_name_plural = _("colonnes des relevés bancaires CSV")

    def __str__(self) -> str:
        return f"{self.account}"

    def as_layout(self) -> dict:
        return {"date": self.date_column, "amount": self.amount_column,
                "credit": self.credit_column, "label": self.label_column,
                "reference": self.reference_column, "payer": self.payer_column,
                "dates": self.dates, "decimal_comma": self.decimal_comma}

"""Invoices, their lines, their history and their legal XML (the accounts are `core`'s).

The models mirror B2Brouter's resources. They hold data and the rules that must never be false
(database constraints); the actions live in `invoicing.services`.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from core.choices import ChoiceLabels

ZERO = Decimal("0.00")
# What remains to be paid of an invoice (see `Invoice.credited_amount`), and "something does".
REMAINING = (models.F("payable_amount")
             - Coalesce(models.F("credited_amount"), models.Value(ZERO))
             - Coalesce(models.F("received_amount"), models.Value(ZERO)))
LEFT_TO_PAY = Q(payable_amount__gt=Coalesce(models.F("credited_amount"),
                                                             models.Value(ZERO))
                + Coalesce(models.F("received_amount"), models.Value(ZERO)))


class InvoiceState(models.TextChoices):
    # Local states, before B2Brouter has the invoice.
    DRAFT = "draft", _("brouillon")
    QUEUED = "queued", _("en file d'envoi")
    SUBMITTING = "submitting", _("transmission en cours")
    FAILED = "failed", _("refusée par B2Brouter")
    # B2Brouter's states (Chorus Pro's life cycle as B2Brouter reports it).
    NEW = "new", _("créée chez B2Brouter")
    SENDING = "sending", _("envoi en cours")
    SENT = "sent", _("déposée")
    REGISTERED = "registered", _("mise à disposition")
    ACCEPTED = "accepted", _("service fait")
    REFUSED = "refused", _("refusée")
    ALLEGEDLY_PAID = "allegedly_paid", _("paiement signalé")
    PAID = "paid", _("mise en paiement")
    CLOSED = "closed", _("close")
    ERROR = "error", _("erreur de dépôt")
    CANCELLED = "cancelled", _("annulée")
    ANNULLED = "annulled", _("invalidée")
    DISCARDED = "discarded", _("abandonnée")


STATE_MAX_LENGTH = 20


# Chorus Pro's statuses for an invoice it sends back (chorus-domain.md §1.4).
ROUTING_RETURN = "A_RECYCLER"
REJECTED = "REJETEE"
SUSPENDED = "SUSPENDUE"

# Chorus Pro's statuses in words (chorus-domain.md §1.4); the code itself stays for support.
CHORUS_STATUS_LABELS = {
    "DEPOSEE": _("déposée sur Chorus Pro"),
    "EN_COURS_ACHEMINEMENT": _("en cours d'acheminement vers l'acheteur"),
    "MISE_A_DISPOSITION": _("mise à disposition de l'acheteur"),
    "A_RECYCLER": _("retournée pour correction du routage"),
    "SUSPENDUE": _("suspendue : pièces justificatives à compléter"),
    "COMPLETEE": _("complétée après suspension"),
    "REJETEE": _("rejetée par l'acheteur"),
    "SERVICE_FAIT": _("service fait constaté"),
    "MANDATEE": _("mandatée"),
    "MISE_A_DISPOSITION_COMPTABLE": _("transmise au comptable public"),
    "COMPTABILISEE": _("comptabilisée"),
    "MISE_EN_PAIEMENT": _("mise en paiement"),
}


# A credit note's life reads as a credit note's, not as an invoice paid.
CREDIT_NOTE_STATE_LABELS = {"paid": _("pris en compte au paiement"),
                            "allegedly_paid": _("pris en compte au paiement (signalé)")}


def state_words(state: str, kind: str = "") -> str:
    """The state in words (`mise en paiement`, not `paid`), as a credit note's for one."""
    if kind == "credit_note" and state in CREDIT_NOTE_STATE_LABELS:
        return str(CREDIT_NOTE_STATE_LABELS[state])
    try:
        return str(InvoiceState(state).label)
    except ValueError:
        return state or ""


def chorus_status_label(code: str) -> str:
    """Chorus Pro's status in words (the code itself for one this product does not know)."""
    return str(CHORUS_STATUS_LABELS.get(code, code or ""))


# What a refusal asks of the supplier.
ROUTING = "routing"  # fix the routing data (service, commitment), resend under the same number
REJECTION = "rejection"  # dead: a credit note and a new invoice under a new number
SUSPENSION = "suspension"  # documents missing: complete it on the Chorus Pro portal
UNKNOWN = "unknown"  # B2Brouter gives a reason only: the user reads it and chooses

_STATUS_KIND = {ROUTING_RETURN: ROUTING, REJECTED: REJECTION, SUSPENDED: SUSPENSION}
# Words that name the Chorus Pro status in a refusal's reason when no status is given.
_REASON_WORDS = (("A_RECYCLER", ROUTING), ("A RECYCLER", ROUTING), ("RECYCL", ROUTING),
                 ("SUSPENDUE", SUSPENSION), ("REJETEE", REJECTION), ("REJETÉE", REJECTION))


def refusal_kind(state: str, chorus_status: str, reason: str, final: bool = False) -> str:
    """What a refused invoice asks of the supplier: ROUTING, REJECTION, SUSPENSION or UNKNOWN;
    "" when the invoice is not refused.

    Chorus Pro's status decides when B2Brouter gives it (an extra, not documented); otherwise
    the reason is read for the status's name; otherwise it is UNKNOWN and both fixes are offered.
    """
    if state != InvoiceState.REFUSED:
        return ""
    if final:  # a channel where a refusal is always the buyer's last word (a company's)
        return REJECTION
    if chorus_status in _STATUS_KIND:
        return _STATUS_KIND[chorus_status]
    text = (reason or "").upper()
    for word, kind in _REASON_WORDS:
        if word in text:
            return kind
    return UNKNOWN


# Invoices waiting on us (the worklist), and invoices waiting on Chorus Pro (the ageing view).
# Not (or no longer) an invoice to be paid: never deposited, cancelled, or still a draft.
NOT_OWED = (InvoiceState.DRAFT, InvoiceState.QUEUED, InvoiceState.SUBMITTING, InvoiceState.FAILED,
            InvoiceState.CANCELLED, InvoiceState.ANNULLED, InvoiceState.DISCARDED)
WORKLIST_STATES = [InvoiceState.REFUSED, InvoiceState.ERROR, InvoiceState.FAILED]
AWAITING_STATES = [InvoiceState.SENDING, InvoiceState.SENT, InvoiceState.REGISTERED,
                   InvoiceState.ACCEPTED, InvoiceState.ALLEGEDLY_PAID]


class Invoice(ChoiceLabels, models.Model):
    State = InvoiceState

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("facture")
        CREDIT_NOTE = "credit_note", _("avoir")

    class BillingFramework(models.TextChoices):
        A1 = "A1", _("A1 — dépôt par le fournisseur")
        A2 = "A2", _("A2 — facture déjà payée")

    account = models.ForeignKey("core.Account", on_delete=models.PROTECT, related_name="invoices", verbose_name=_("compte"))
    # Given when the invoice is issued (leaves the drafts), from the account's sequence: a draft
    # has none, so that abandoned drafts leave no hole.
    number = models.CharField(_("numéro"), max_length=20, blank=True)
    issued_at = models.DateTimeField(_("émise le"), null=True, blank=True, editable=False)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    credited_invoice = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes",
        verbose_name=_("facture d'origine"),
    )
    # A rejected invoice's replacement (prepared with the credit note that cancels it).
    replaces = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replacements",
        verbose_name=_("remplace"), editable=False,
    )
    # The form's one-time key: the same request made twice (a double click) makes one draft.
    request_key = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("clé de la demande"))
    issue_date = models.DateField(_("date d'émission"), null=True, blank=True)
    due_date = models.DateField(_("date d'échéance"), null=True, blank=True)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    buyer = models.ForeignKey(
        "directory.Buyer", on_delete=models.PROTECT, related_name="invoices", null=True, blank=True,
        verbose_name=_("acheteur"),
    )
    service = models.ForeignKey(
        "directory.Service", on_delete=models.PROTECT, related_name="invoices", null=True, blank=True,
        verbose_name=_("service"),
    )
    po_number = models.CharField(_("n° d'engagement (bon de commande)"), max_length=50, blank=True)
    buyer_reference = models.CharField(_("code service"), max_length=100, blank=True)
    contract_reference = models.CharField(_("n° de marché"), max_length=50, blank=True)
    billing_framework = models.CharField(
        _("cadre de facturation"), max_length=2, choices=BillingFramework.choices,
        default=BillingFramework.A1,
    )
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    notes = models.TextField(_("mentions"), blank=True)
    # What an invoice to a company says beyond a public buyer's (décret 2022-1299); null on
    # invoices to public buyers. Nullable so that adding them keeps SQLite's triggers.
    operation_category = models.CharField(  # noqa: DJ001
        _("catégorie de l'opération"), max_length=10, null=True, blank=True,
        choices=[("goods", _("livraisons de biens")), ("services", _("prestations de services")),
                 ("mixed", _("mixte (biens et services)"))])
    delivery_address = models.TextField(_("adresse de livraison"), null=True,  # noqa: DJ001
                                        blank=True)
    vat_on_debits = models.BooleanField(_("option pour le paiement de la TVA d'après les débits"),
                                        null=True, blank=True)

    state = models.CharField(_("état"), max_length=STATE_MAX_LENGTH, choices=InvoiceState.choices,
                             default=InvoiceState.DRAFT, db_index=True)
    remote_id = models.BigIntegerField(_("id B2Brouter"), null=True, blank=True, unique=True)
    # A deposit that failed (state `error`) is terminal at B2Brouter: once corrected, the
    # invoice is created again under the same number after this document is deleted there.
    remote_id_to_delete = models.BigIntegerField(_("id B2Brouter à supprimer"), null=True,
                                                 blank=True)
    state_updated_at = models.DateTimeField(_("état changé le"), null=True, blank=True)
    # Bumped when a routing return is fixed and resent under the same number: each round has
    # its own deposit, hence its own legal XML.
    submission_round = models.PositiveIntegerField(default=1, verbose_name=_("envoi n°"))
    submit_attempts = models.PositiveIntegerField(default=0, verbose_name=_("essais de transmission"))
    submit_started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("transmission commencée le"))
    last_error = models.TextField(blank=True, verbose_name=_("dernière erreur"))
    remote_field_errors = models.JSONField(default=dict, blank=True, verbose_name=_("erreurs par champ (B2Brouter)"))
    chorus_status = models.CharField(_("statut Chorus Pro"), max_length=40, blank=True)
    chorus_status_reason = models.TextField(_("motif Chorus Pro"), blank=True)
    download_legal_url = models.CharField(max_length=500, blank=True, verbose_name=_("adresse du XML légal"))
    # The address whose file was not this invoice's legal XML: not downloaded again.
    # (Nullable: added in place, without remaking the frozen table under its triggers.)
    legal_url_refused = models.CharField(  # noqa: DJ001 - see above
        max_length=500, null=True, blank=True, editable=False, verbose_name=_("adresse refusée du XML légal"))
    # What the archived legal XML says that our invoice does not (empty: they agree).
    legal_xml_discrepancies = models.JSONField(default=list, blank=True, verbose_name=_("écarts du XML légal"))
    legal_xml_checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("XML légal vérifié le"))
    # When its PDF was last asked for (B2Brouter makes it asynchronously: not ready at first).
    pdf_attempted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("PDF demandé le"))
    # When its legal XML was last asked for by the reconciler (at most once a window).
    legal_attempted_at = models.DateTimeField(null=True, blank=True,
                                              verbose_name=_("XML légal demandé le"))

    subtotal = models.DecimalField(_("total HT"), max_digits=14, decimal_places=2, default=ZERO)
    tax_amount = models.DecimalField(_("TVA"), max_digits=14, decimal_places=2, default=ZERO)
    total = models.DecimalField(_("total TTC"), max_digits=14, decimal_places=2, default=ZERO)
    payable_amount = models.DecimalField(_("net à payer"), max_digits=14, decimal_places=2,
                                         default=ZERO)
    # What is left to be paid is payable_amount - credited_amount - received_amount, kept as
    # they change (NULL reads as nothing): what its issued credit notes take off
    # (`states.credited_amount_refresh`, on each of their state changes) and what finance
    # received (`finance.services.payments`). Life, not content: never frozen.
    credited_amount = models.DecimalField(_("crédité par avoirs"), max_digits=14,
                                          decimal_places=2, null=True, blank=True, editable=False)
    received_amount = models.DecimalField(_("reçu"), max_digits=14, decimal_places=2, null=True,
                                          blank=True, editable=False)
    # The date of its last payment (a reversed one aside), kept with received_amount.
    last_paid_on = models.DateField(_("dernier paiement le"), null=True, blank=True,
                                    editable=False)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+", verbose_name=_("créée par"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("créée le"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("modifiée le"))

    class Meta:
        verbose_name = _("facture")
        verbose_name_plural = _("factures")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "number"], condition=~Q(number=""),
                                    name="invoice_unique_number_per_account"),
            models.UniqueConstraint(fields=["account", "request_key"], condition=~Q(request_key=""),
                                    name="invoice_unique_request_key"),
            models.CheckConstraint(condition=Q(state="draft") | ~Q(number=""),
                                   name="invoice_issued_has_number"),
            models.CheckConstraint(
                condition=Q(due_date__isnull=True) | Q(issue_date__isnull=True)
                | Q(due_date__gte=models.F("issue_date")),
                name="invoice_due_not_before_issue",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "state", "-created_at"], name="invoice_account_state"),
            # The filters' indexes carry what the list's counts per state read (state, kind,
            # total), so that counting a filter's matches reads the index alone.
            models.Index(fields=["account", "-issue_date", "-id"], name="invoice_account_date",
                         include=["state", "kind", "total"]),
            models.Index(fields=["account", "buyer", "-created_at", "-id"],
                         name="invoice_account_buyer", include=["state", "kind", "total"]),
            models.Index(fields=["account", "-created_at", "-id"], name="invoice_account_created"),
            # Walked in order, one state at a time, by the worklist and the ageing view.
            models.Index(fields=["account", "state", "state_updated_at", "id"],
                         name="invoice_account_state_time"),
            # The list sorted by number or by amount, walked in order (drafts' empty numbers too).
            models.Index(fields=["account", "number", "id"], name="invoice_account_number"),
            models.Index(fields=["account", "total", "id"], name="invoice_account_total",
                         include=["state", "kind"]),
            # The invoices with something left to pay, and only they: what the aged balance and
            # the dashboard read, however many settled invoices pile up behind them.
            models.Index(fields=["account", "due_date"], name="invoice_open",
                         include=["buyer", "payable_amount", "credited_amount",
                                  "received_amount", "state", "number"],
                         condition=Q(kind="invoice") & LEFT_TO_PAY),
        ]

    def __str__(self) -> str:
        return self.number or str(_("brouillon n° %(id)s") % {"id": self.pk})

    def save(self, *args, **kwargs):
        changed = self.frozen_changes()
        if changed:
            raise FrozenInvoice(self, changed)
        super().save(*args, **kwargs)
        self._remember_loaded()

    def delete(self, *args, **kwargs):
        if self.number or self.state != InvoiceState.DRAFT:
            raise FrozenInvoice(self, ["state"])
        return super().delete(*args, **kwargs)

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES

    @property
    def refusal_kind(self) -> str:
        """What a refusal asks of the supplier (see `refusal_kind`): a company's refusal is
        final, a public buyer's depends on Chorus Pro's status."""
        return refusal_kind(self.state, self.chorus_status, self.chorus_status_reason,
                            final=self.refusal_is_final)

    @property
    def refusal_is_final(self) -> bool:
        from invoicing import channels

        return channels.of_invoice(self).refusal_is_final

    @property
    def is_issued(self) -> bool:
        return self.state != InvoiceState.DRAFT

    @property
    def sign(self) -> int:
        """-1 for a credit note: it counts negatively in every total."""
        return -1 if self.kind == self.Kind.CREDIT_NOTE else 1

    @property
    def signed_total(self) -> Decimal:
        return self.sign * self.total

    @property
    def signed_subtotal(self) -> Decimal:
        return self.sign * self.subtotal

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded = dict(zip(field_names, values, strict=True))
        return instance

    def frozen_changes(self) -> list[str]:
        """The fields this save would change that an issued invoice never changes (see
        FROZEN_FIELDS; the routing fields only for a routing return being fixed)."""
        loaded = getattr(self, "_loaded", None)
        if not loaded or loaded.get("state") in EDITABLE_STATES:
            return [name for name in ("number",) if loaded and loaded.get(name)
                    and getattr(self, name) != loaded[name]]
        frozen = FROZEN_FIELDS if loaded.get("state") == InvoiceState.REFUSED \
            else FROZEN_FIELDS | ROUTING_FIELDS
        return [name for name in sorted(frozen)
                if name in loaded and getattr(self, name) != loaded[name]]

    def _remember_loaded(self) -> None:
        self._loaded = {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields}

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_loaded()



class FrozenInvoice(Exception):
    """An issued invoice never changes what it says (only its state and its history grow)."""

    def __init__(self, invoice: Invoice, fields: list[str]):
        self.invoice, self.fields = invoice, fields
        super().__init__(f"invoice {invoice.number or invoice.pk} is issued: "
                         f"{', '.join(fields)} never change")


# What an issued invoice says, never changed (the database refuses it too, migration 0012).
FROZEN_FIELDS = frozenset({
    "number", "kind", "credited_invoice_id", "issue_date", "due_date", "currency", "account_id",
    "buyer_id", "iban", "notes", "billing_framework", "subtotal", "tax_amount", "total",
    "payable_amount", "issued_at", "replaces_id", "operation_category", "delivery_address",
    "vat_on_debits",
})
# Its routing data: corrected only for a routing return (refused, fixed, resent).
ROUTING_FIELDS = frozenset({"service_id", "buyer_reference", "po_number", "contract_reference"})


# Drafts, and invoices that never reached Chorus Pro: refused by B2Brouter on creation
# (`failed`), or whose deposit failed (`error`, corrected and created again, same number).
EDITABLE_STATES = frozenset({InvoiceState.DRAFT, InvoiceState.FAILED, InvoiceState.ERROR})


class InvoiceLine(models.Model):
    class VatCategory(models.TextChoices):
        STANDARD = "S", _("S — taux normal ou réduit")
        ZERO_RATED = "Z", _("Z — taux zéro")
        EXEMPT = "E", _("E — exonéré")
        REVERSE_CHARGE = "AE", _("AE — autoliquidation")
        INTRA_EU = "K", _("K — livraison intracommunautaire")
        EXPORT = "G", _("G — export hors UE")
        NOT_SUBJECT = "O", _("O — hors champ de la TVA")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("facture"))
    position = models.PositiveSmallIntegerField(default=1, verbose_name=_("position"))
    description = models.CharField(_("désignation"), max_length=500)
    article_code = models.CharField(_("code article"), max_length=50, blank=True)
    quantity = models.DecimalField(_("quantité"), max_digits=19, decimal_places=6)
    unit = models.PositiveSmallIntegerField(_("unité"), default=1)
    unit_price = models.DecimalField(_("prix unitaire HT"), max_digits=19, decimal_places=6)
    vat_category = models.CharField(_("catégorie TVA"), max_length=2, choices=VatCategory.choices,
                                    default=VatCategory.STANDARD)
    vat_rate = models.DecimalField(_("taux TVA (%)"), max_digits=5, decimal_places=2,
                                   default=Decimal("20.00"))
    exemption_code = models.CharField(_("code d'exonération"), max_length=30, blank=True)
    exemption_reason = models.CharField(_("motif d'exonération"), max_length=255, blank=True)
    line_total = models.DecimalField(_("total HT"), max_digits=14, decimal_places=2, default=ZERO)
    # On a credit note: the line of the credited invoice this line credits.
    credited_line = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="credit_lines", editable=False, verbose_name=_("ligne créditée"))
    # On a credit note, a line that credits an amount of its credited line (quantity 1, the
    # amount as price), not a quantity of it. (Nullable: added in place, without remaking the
    # frozen table under its triggers; NULL reads as False.)
    credit_by_amount = models.BooleanField(null=True, blank=True, editable=False,  # noqa: DJ001
                                           verbose_name=_("avoir en montant"))

    class Meta:
        verbose_name = _("ligne")
        verbose_name_plural = _("lignes")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="line_quantity_not_negative"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_price_not_negative"),
            models.CheckConstraint(condition=Q(vat_rate__gte=0) & Q(vat_rate__lte=100),
                                   name="line_vat_rate_range"),
        ]

    def __str__(self) -> str:
        return self.description

    def save(self, *args, **kwargs):
        self._refuse_if_issued(self.invoice_id)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_issued(self.invoice_id)
        return super().delete(*args, **kwargs)

    def _refuse_if_issued(self, invoice_id) -> None:
        state = Invoice.objects.filter(pk=invoice_id).values_list("state", flat=True).first()
        if state is not None and state not in EDITABLE_STATES:
            raise FrozenInvoice(Invoice(pk=invoice_id), ["lines"])


class InvoiceEvent(ChoiceLabels, models.Model):
    """One entry of an invoice's append-only history: a state change or an exchange with B2Brouter."""

    class Kind(models.TextChoices):
        STATE = "state", _("changement d'état")
        EXCHANGE = "exchange", _("échange B2Brouter")
        NOTE = "note", _("note")

    class Source(models.TextChoices):
        USER = "user", _("utilisateur")
        WORKER = "worker", _("tâche")
        WEBHOOK = "webhook", _("webhook")
        POLL = "poll", _("synchronisation")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="events", verbose_name=_("facture"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("date"))
    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("type"))
    source = models.CharField(max_length=10, choices=Source.choices, verbose_name=_("origine"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+", verbose_name=_("auteur"))
    from_state = models.CharField(max_length=STATE_MAX_LENGTH, blank=True, verbose_name=_("état précédent"))
    to_state = models.CharField(max_length=STATE_MAX_LENGTH, blank=True, verbose_name=_("nouvel état"))
    chorus_status = models.CharField(max_length=40, blank=True, verbose_name=_("statut Chorus Pro"))
    reason = models.TextField(blank=True, verbose_name=_("motif"))
    remote_event_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("n° d'événement B2Brouter"))
    remote_state_updated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("changement chez B2Brouter le"))
    http_method = models.CharField(max_length=8, blank=True, verbose_name=_("méthode HTTP"))
    http_path = models.CharField(max_length=500, blank=True, verbose_name=_("chemin"))
    http_status = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("code HTTP"))
    request_body = models.JSONField(null=True, blank=True, verbose_name=_("envoyé"))
    response_body = models.JSONField(null=True, blank=True, verbose_name=_("reçu"))
    message = models.TextField(blank=True, verbose_name=_("message"))
    # What happened, as data: a code of `invoicing.history` and its values, worded when read in
    # the reader's language. (Rows written before hold their French `message`.) Nullable: added
    # in place, without remaking the append-only table under its triggers.
    code = models.CharField(max_length=40, null=True, blank=True,  # noqa: DJ001
                            verbose_name=_("événement"))
    params = models.JSONField(null=True, blank=True, verbose_name=_("valeurs"))

    class Meta:
        verbose_name = _("événement")
        verbose_name_plural = _("historique")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "remote_event_id"],
                condition=Q(remote_event_id__isnull=False),
                name="event_unique_remote_event",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind} {self.from_state}->{self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Invoice history is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Invoice history is append-only.")


class ArchivedOnce:
    """A file archived for an invoice (its account copied from it): written once, never changed
    nor deleted, here as in the database (its triggers refuse it too)."""

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError(f"{type(self).__name__} is never changed once stored.")
        if self.account_id is None or getattr(self, "number", "") is None:
            account_id, number = Invoice.objects.values_list("account_id", "number").get(
                pk=self.invoice_id)
            self.account_id = self.account_id or account_id
            if hasattr(self, "number") and self.number is None:
                self.number = number
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__} is never deleted.")


class LegalDocument(ArchivedOnce, models.Model):
    """The exact XML deposited at Chorus Pro for one submission round of an invoice. Never changes."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="legal_documents", verbose_name=_("facture"))
    # The invoice's account, repeated so that the archive lists by account without a join.
    account = models.ForeignKey("core.Account", on_delete=models.PROTECT, related_name="+",
                                null=True, editable=False, verbose_name=_("compte"))
    submission_round = models.PositiveIntegerField(verbose_name=_("envoi n°"))
    content = models.BinaryField(verbose_name=_("contenu"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    size = models.PositiveIntegerField(verbose_name=_("taille (octets)"))
    content_type = models.CharField(max_length=100, verbose_name=_("type"))
    source_url = models.CharField(max_length=500, verbose_name=_("adresse d'origine"))
    fetched_at = models.DateTimeField(auto_now_add=True, verbose_name=_("archivé le"))
    # Set once, by a guarded UPDATE, when B2Brouter has been told (ack) that we stored it.
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acquitté le"))
    # When the reconciler last asked for its acknowledgement (at most once a window).
    ack_attempted_at = models.DateTimeField(null=True, blank=True,
                                            verbose_name=_("acquittement demandé le"))
    # The invoice's number, repeated so that the archive lists in the numbers' order from an
    # index, without sorting every document (issued invoices keep their number for good).
    # Nullable: added in place, without remaking the archive's table under its triggers.
    number = models.CharField(max_length=20, null=True, blank=True,  # noqa: DJ001
                              editable=False, verbose_name=_("numéro"))

    class Meta:
        verbose_name = _("XML légal")
        verbose_name_plural = _("XML légaux")
        ordering = ["invoice_id", "submission_round"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "submission_round"],
                                    name="legal_document_one_per_round"),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="legal_document_account"),
                   models.Index(fields=["account", "-number", "-submission_round", "-id"],
                                name="legal_document_number")]

    def __str__(self) -> str:
        return f"{self.invoice} #{self.submission_round} ({self.sha256[:12]})"



class InvoicePdf(ArchivedOnce, models.Model):
    """The PDF of one submission round of an invoice, as B2Brouter renders it, stored with its
    SHA-256 beside the legal XML and, like it, never changed (the database refuses it)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="pdfs", verbose_name=_("facture"))
    account = models.ForeignKey("core.Account", on_delete=models.PROTECT, related_name="+",
                                editable=False, verbose_name=_("compte"))
    submission_round = models.PositiveIntegerField(verbose_name=_("envoi n°"))
    content = models.BinaryField(verbose_name=_("contenu"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    size = models.PositiveIntegerField(verbose_name=_("taille (octets)"))
    fetched_at = models.DateTimeField(auto_now_add=True, verbose_name=_("archivé le"))

    class Meta:
        verbose_name = _("PDF de la facture")
        verbose_name_plural = _("PDF des factures")
        ordering = ["invoice_id", "submission_round"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "submission_round"],
                                    name="invoice_pdf_one_per_round"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} #{self.submission_round} PDF ({self.sha256[:12]})"



class SyncCursor(models.Model):
    """Where polling resumes: the latest `state_updated_at` fully applied for an account."""

    account = models.OneToOneField("core.Account", on_delete=models.CASCADE,
                                   related_name="sync_cursor", verbose_name=_("compte"))
    state_updated_at_from = models.DateTimeField(null=True, blank=True, verbose_name=_("changements lus depuis"))
    last_success_at = models.DateTimeField(null=True, blank=True, verbose_name=_("dernière synchronisation réussie"))

    class Meta:
        verbose_name = _("curseur de synchronisation")
        verbose_name_plural = _("curseurs de synchronisation")

    def __str__(self) -> str:
        return f"{self.account}: {self.state_updated_at_from}"


class UserActivity(models.Model):
    """When a user last looked at the dashboard: what changed since is news to them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="activity", verbose_name=_("utilisateur"))
    dashboard_seen_at = models.DateTimeField(null=True, blank=True, verbose_name=_("tableau de bord vu le"))

    class Meta:
        verbose_name = _("activité d'un utilisateur")
        verbose_name_plural = _("activité des utilisateurs")

    def __str__(self) -> str:
        return f"{self.user}: {self.dashboard_seen_at}"


class TaxReport(models.Model):
    """A declaration of an invoice to the tax administration (Flux 1 of the French reform),
    made by B2Brouter when the invoice to a company is sent (`tax_report_ids`), followed to its
    end: registered, refused or error (FR-GUIDE). Only `invoicing.services.reform` writes it."""

    class State(models.TextChoices):
        NEW = "new", _("en préparation")
        SENT = "sent", _("transmise")
        ACKNOWLEDGED = "acknowledged", _("reçue par l'administration")
        REGISTERED = "registered", _("enregistrée par l'administration")
        REFUSED = "refused", _("refusée par l'administration")
        ERROR = "error", _("en erreur")
        ANNULLED = "annulled", _("annulée")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="tax_reports",
                                verbose_name=_("facture"))
    remote_id = models.BigIntegerField(_("id B2Brouter"), unique=True)
    submission_round = models.PositiveIntegerField(_("envoi n°"), default=1)
    state = models.CharField(_("état"), max_length=15, choices=State.choices, default=State.NEW)
    reason = models.TextField(_("motif"), blank=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    state_changed_at = models.DateTimeField(_("état changé le"), null=True, blank=True)
    checked_at = models.DateTimeField(_("lue chez B2Brouter le"), null=True, blank=True)

    TERMINAL = ("registered", "refused", "error", "annulled")

    class Meta:
        verbose_name = _("déclaration à l'administration fiscale")
        verbose_name_plural = _("déclarations à l'administration fiscale")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "checked_at"], name="tax_report_to_follow")]

    def __str__(self) -> str:
        return f"{self.invoice} — {self.get_state_display()}"

    @property
    def is_final(self) -> bool:
        return self.state in self.TERMINAL

    @property
    def needs_action(self) -> bool:
        return self.state in (self.State.REFUSED, self.State.ERROR)


class WebhookEvent(models.Model):
    """A B2Brouter notification, stored as received before anything is done with it, so that
    none is lost and none is applied twice (`dedupe_key` is B2Brouter's event id)."""

    dedupe_key = models.CharField(max_length=80, unique=True, verbose_name=_("clé d'unicité"))
    code = models.CharField(max_length=80, verbose_name=_("code"))
    remote_invoice_id = models.BigIntegerField(null=True, blank=True, db_index=True, verbose_name=_("facture B2Brouter"))
    state = models.CharField(max_length=20, blank=True, verbose_name=_("état"))
    triggered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("émise le"))
    payload = models.JSONField(verbose_name=_("contenu"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("reçue le"))
    processed_at = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name=_("traitée le"))
    outcome = models.CharField(max_length=20, blank=True, verbose_name=_("résultat"))
    # Runs of its processing, and when the reconciler last enqueued it again: a notice that
    # keeps failing is given up after a few runs (`webhooks.MAX_ATTEMPTS`), never retried for
    # ever.
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("essais"))
    enqueued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("relancée le"))

    class Meta:
        verbose_name = _("notification B2Brouter")
        verbose_name_plural = _("notifications B2Brouter")
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.code} {self.dedupe_key}"


def _attachment_path(instance: "InvoiceAttachment", filename: str) -> str:
    return f"attachments/{instance.invoice_id}/{filename}"


class InvoiceAttachment(models.Model):
    """A supporting document joined to an invoice (Chorus Pro limits are checked by the form),
    sent with it to B2Brouter and embedded in its legal XML."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("facture"))
    file = models.FileField(_("fichier"), upload_to=_attachment_path, max_length=255)
    original_name = models.CharField(_("nom du fichier"), max_length=50)
    size = models.PositiveIntegerField(_("taille (octets)"))
    content_type = models.CharField(_("type"), max_length=100, blank=True)
    # The supplier's own PDF of the invoice: B2Brouter shows it as the invoice's visual.
    use_as_pdf_view = models.BooleanField(_("PDF de la facture"), default=False)
    # The B2Brouter invoice that holds it (a failed deposit created again needs it again).
    remote_invoice_id = models.BigIntegerField(null=True, blank=True, editable=False, verbose_name=_("facture B2Brouter"))
    uploaded_at = models.DateTimeField(_("envoyée le"), null=True, blank=True, editable=False)
    # When the last upload was started: an upload whose answer was lost may still land at
    # B2Brouter for a while, so it is not repeated before that time has passed.
    upload_started_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("envoi commencé le"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("ajoutée le"))

    class Meta:
        verbose_name = _("pièce jointe")
        verbose_name_plural = _("pièces jointes")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "original_name"],
                                    name="attachment_unique_name_per_invoice"),
            models.UniqueConstraint(fields=["invoice"], condition=Q(use_as_pdf_view=True),
                                    name="attachment_one_pdf_view_per_invoice"),
        ]

    def __str__(self) -> str:
        return self.original_name


class InvoiceStateTotal(models.Model):
    """How many invoices and credit notes each account has in each state, and their net total
    (credit notes count negatively): kept by the database itself (triggers on invoicing_invoice,
    migrations 0006 and 0012), so that the list's counts per state cost one small read whatever
    the number of invoices."""

    account = models.ForeignKey("core.Account", on_delete=models.CASCADE,
                                related_name="state_totals", verbose_name=_("compte"))
    state = models.CharField(max_length=STATE_MAX_LENGTH, verbose_name=_("état"))
    count = models.BigIntegerField(default=0, verbose_name=_("nombre"))  # invoices and credit notes
    credit_count = models.BigIntegerField(default=0, verbose_name=_("dont avoirs"))  # of which credit notes
    total = models.DecimalField(max_digits=18, decimal_places=2, default=ZERO, verbose_name=_("total"))  # net

    class Meta:
        verbose_name = _("total par état")
        verbose_name_plural = _("totaux par état")
        constraints = [
            models.UniqueConstraint(fields=["account", "state"], name="state_total_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.state}: {self.count}"


class PerBuyer(models.Model):
    """A row of figures kept by the database per account and buyer (the buyer without a
    constraint: the triggers write its id as the invoice has it)."""

    account = models.ForeignKey("core.Account", on_delete=models.CASCADE, related_name="+",
                                verbose_name=_("compte"))
    buyer = models.ForeignKey("directory.Buyer", on_delete=models.DO_NOTHING, null=True,
                              db_constraint=False, related_name="+",
                              verbose_name=_("acheteur"))

    class Meta:
        abstract = True


class MonthTotal(PerBuyer):
    """Per account, buyer and month: what was invoiced (credit notes subtracted, by issue date),
    and how many invoices were settled by payments (by the date of their last payment) with the
    days they took. Kept by the database itself (triggers on invoicing_invoice, migration
    0026), so that the dashboard reads a few rows whatever the number of invoices."""

    month = models.DateField(_("mois"))
    invoiced = models.DecimalField(_("facturé"), max_digits=18, decimal_places=2, default=ZERO)
    settled = models.BigIntegerField(_("factures réglées"), default=0)
    settled_days = models.BigIntegerField(_("jours jusqu'au règlement"), default=0)

    class Meta:
        verbose_name = _("total du mois")
        verbose_name_plural = _("totaux par mois")
        constraints = [models.UniqueConstraint(fields=["account", "buyer", "month"],
                                               name="month_total_unique")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.buyer_id} {self.month}: {self.invoiced}"


class OpenAmount(PerBuyer):
    """Per account, buyer and due date: what is left to pay of the invoices owed, and how many
    (`open_invoices`' rows, added up). Kept by the database itself (migration 0026): the aged
    balance and the dashboard read it, not the invoices. No due date is kept as 9999-12-31."""

    NO_DUE_DATE = datetime.date(9999, 12, 31)

    due_date = models.DateField(_("échéance"))
    amount = models.DecimalField(_("reste dû"), max_digits=18, decimal_places=2, default=ZERO)
    invoices = models.BigIntegerField(_("factures"), default=0)

    class Meta:
        verbose_name = _("reste dû par échéance")
        verbose_name_plural = _("restes dus par échéance")
        constraints = [models.UniqueConstraint(fields=["account", "buyer", "due_date"],
                                               name="open_amount_unique")]
        # The recent due dates (the ageing's exact columns) read as a range.
        indexes = [models.Index(fields=["account", "due_date"], name="open_amount_due",
                                include=["buyer", "amount", "invoices"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.buyer_id} {self.due_date}: {self.amount}"


class OpenMonth(PerBuyer):
    """`OpenAmount` added up per month of the due date: what the ageing's "over 90 days" column
    reads for the months wholly behind it, a row per buyer and month however many invoices (or
    due dates) those months hold. Kept by the same triggers (migration 0027)."""

    due_month = models.DateField(_("mois d'échéance"))
    amount = models.DecimalField(_("reste dû"), max_digits=18, decimal_places=2, default=ZERO)
    invoices = models.BigIntegerField(_("factures"), default=0)

    class Meta:
        verbose_name = _("reste dû par mois d'échéance")
        verbose_name_plural = _("restes dus par mois d'échéance")
        constraints = [models.UniqueConstraint(fields=["account", "buyer", "due_month"],
                                               name="open_month_unique")]
        indexes = [models.Index(fields=["account", "due_month"], name="open_month_due",
                                include=["buyer", "amount", "invoices"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.buyer_id} {self.due_month}: {self.amount}"

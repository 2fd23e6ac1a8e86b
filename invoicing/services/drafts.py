"""Drafts: create and edit them with their lines, propose their numbers, make credit notes, fix
a routing return, join supporting documents.

Everything here writes, all or nothing, in one transaction; nothing here talks to B2Brouter
(sending is `submission.invoice_request_send`). Lines come in the one line shape
(`invoicing.lines.Line`); totals are always `invoice_recompute_totals`.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import Account
from invoicing import states, totals
from invoicing.lines import Line, lines_of
from invoicing.models import Invoice, InvoiceAttachment
from invoicing.services import events
from invoicing.services.errors import InvoiceActionError

# The notes French invoices must carry (Code de commerce L441-10 / D441-5; for public buyers the
# Code de la commande publique R2192-31 and D2192-35). The #PMD# / #PMT# / #AAB# subject codes are
# the ones the 2026 reform's rules (BR-FR-05/06) expect at the start of each note.
DEFAULT_LEGAL_NOTES = (
    "#PMD#En cas de retard de paiement, intérêts moratoires au taux de la BCE majoré de 8 points "
    "(art. R2192-31 du code de la commande publique).\n"
    "#PMT#Indemnité forfaitaire pour frais de recouvrement : 40 € (art. D2192-35 du code de la "
    "commande publique, art. D441-5 du code de commerce).\n"
    "#AAB#Pas d'escompte pour paiement anticipé."
)
SEQUENCE_WIDTH = 5


@dataclass
class DraftData:
    """The header of a draft as the form gives it; every field may be empty on a draft."""

    number: str = ""
    buyer: object = None
    service: object = None
    issue_date: datetime.date | None = None
    due_date: datetime.date | None = None
    po_number: str = ""
    contract_reference: str = ""
    billing_framework: str = Invoice.BillingFramework.A1
    iban: str = ""
    notes: str = ""


def invoice_recompute_totals(*, invoice: Invoice) -> totals.Totals:
    """Stores each line's total and the invoice's totals, computed by `invoicing.totals`."""
    lines = list(invoice.lines.all())
    result = totals.compute(
        lines, already_paid=invoice.billing_framework == Invoice.BillingFramework.A2
    )
    for line, amount in zip(lines, result.line_totals, strict=True):
        if line.line_total != amount:
            line.line_total = amount
            line.save(update_fields=["line_total"])
    invoice.subtotal = result.subtotal
    invoice.tax_amount = result.tax_amount
    invoice.total = result.total
    invoice.payable_amount = result.payable_amount
    invoice.save(update_fields=["subtotal", "tax_amount", "total", "payable_amount", "updated_at"])
    return result


@transaction.atomic
def invoice_create(*, account: Account, number: str, buyer, lines: list[Line], service=None,
                   issue_date=None, due_date=None, po_number: str = "", contract_reference: str = "",
                   billing_framework: str = Invoice.BillingFramework.A1, iban: str | None = None,
                   notes: str = "", user=None, kind: str = Invoice.Kind.INVOICE,
                   credited_invoice: Invoice | None = None) -> Invoice:
    """Creates a draft invoice with its lines and totals, all or nothing.

    Raises django's ValidationError (field errors) and saves nothing when a value is invalid.
    """
    invoice = Invoice(
        account=account,
        number=number,
        kind=kind,
        credited_invoice=credited_invoice,
        buyer=buyer,
        service=service,
        buyer_reference=service.code if service else "",
        issue_date=issue_date,
        due_date=due_date,
        po_number=po_number,
        contract_reference=contract_reference,
        billing_framework=billing_framework,
        iban=account.iban if iban is None else iban,
        notes=notes,
        created_by=user,
    )
    invoice.full_clean()
    invoice.save()
    for position, data in enumerate(lines, start=1):
        line = data.row(invoice=invoice, position=position)
        line.full_clean(exclude=["invoice"])
        line.save()
    invoice_recompute_totals(invoice=invoice)
    events.invoice_created_event(invoice=invoice, actor=user)
    return invoice


def _format_number(account: Account, sequence: int) -> str:
    return f"{account.invoice_number_prefix}{sequence:0{SEQUENCE_WIDTH}d}"


def invoice_number_proposed(*, account: Account) -> str:
    """The number the next draft will get from the account's sequence (not reserved)."""
    sequence = account.next_invoice_sequence
    while Invoice.objects.filter(account=account, number=_format_number(account, sequence)).exists():
        sequence += 1
    return _format_number(account, sequence)


def _number_take(account_id: int) -> str:
    """Takes the next free number of the account's sequence. Call inside a transaction: the
    account row stays locked until it commits, so two drafts never get the same number."""
    account = Account.objects.select_for_update().get(pk=account_id)
    sequence = account.next_invoice_sequence
    while Invoice.objects.filter(account=account, number=_format_number(account, sequence)).exists():
        sequence += 1
    account.next_invoice_sequence = sequence + 1
    account.save(update_fields=["next_invoice_sequence", "updated_at"])
    return _format_number(account, sequence)


def invoice_defaults(*, account: Account, today: datetime.date | None = None) -> dict:
    """What a new invoice form starts with: number, dates from the payment terms, IBAN, notes."""
    today = today or timezone.localdate()
    return {
        "number": invoice_number_proposed(account=account),
        "issue_date": today,
        "due_date": today + datetime.timedelta(days=account.payment_terms_days),
        "iban": account.iban,
        "billing_framework": Invoice.BillingFramework.A1,
        "notes": DEFAULT_LEGAL_NOTES,
    }


def _unique_number_error(number: str) -> ValidationError:
    return ValidationError({"number": [_("Le numéro %(number)s est déjà utilisé pour ce compte.")
                                       % {"number": number}]})


def draft_create(*, account: Account, data: DraftData, lines: list[Line], user=None,
                 from_sequence: bool = True, kind: str = Invoice.Kind.INVOICE,
                 credited_invoice: Invoice | None = None) -> Invoice:
    """Creates a draft with its lines and totals, all or nothing.

    `from_sequence`: the number is taken from the account's sequence under a row lock (the one the
    form proposed may have been taken meanwhile: the draft gets the next free one); otherwise
    `data.number` is used as typed. Raises ValidationError by field (a taken number on `number`).
    """
    with transaction.atomic():
        number = _number_take(account.pk) if from_sequence else data.number
        if not from_sequence and Invoice.objects.filter(account=account, number=number).exists():
            raise _unique_number_error(number)
        return invoice_create(
            account=account, number=number, buyer=data.buyer, service=data.service, lines=lines,
            issue_date=data.issue_date, due_date=data.due_date, po_number=data.po_number,
            contract_reference=data.contract_reference, billing_framework=data.billing_framework,
            iban=data.iban, notes=data.notes, user=user, kind=kind,
            credited_invoice=credited_invoice,
        )


def draft_update(*, invoice_id: int, data: DraftData, lines: list[Line], user=None) -> Invoice:
    """Replaces a draft's header and lines, recomputes its totals. All or nothing.

    Raises InvoiceActionError when the invoice is no longer editable (sent meanwhile), and
    ValidationError by field.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if not invoice.is_editable:
            raise InvoiceActionError(_("La facture %(number)s a été envoyée : elle ne se modifie "
                                       "plus.") % {"number": invoice.number})
        if (data.number != invoice.number and Invoice.objects.filter(
                account_id=invoice.account_id, number=data.number).exclude(pk=invoice.pk).exists()):
            raise _unique_number_error(data.number)
        invoice.number = data.number
        invoice.buyer = data.buyer
        invoice.service = data.service
        invoice.buyer_reference = data.service.code if data.service else ""
        invoice.issue_date = data.issue_date
        invoice.due_date = data.due_date
        invoice.po_number = data.po_number
        invoice.contract_reference = data.contract_reference
        invoice.billing_framework = data.billing_framework
        invoice.iban = data.iban
        invoice.notes = data.notes
        invoice.full_clean()
        invoice.save()
        invoice.lines.all().delete()
        for position, line in enumerate(lines, start=1):
            row = line.row(invoice=invoice, position=position)
            row.full_clean(exclude=["invoice"])
            row.save()
        invoice_recompute_totals(invoice=invoice)
        events.user_note_event(invoice=invoice, actor=user, message="Brouillon modifié")
    return invoice


def invoice_fix_routing(*, invoice_id: int, service, po_number: str, contract_reference: str,
                        user=None) -> Invoice:
    """Corrects the routing data of a routing return (refused for its routing: A_RECYCLER, or a
    refusal whose kind B2Brouter does not say): service, commitment, contract. The number, lines
    and amounts stay as deposited. Resending is `submission.invoice_request_send`, which starts a
    new submission round under the same number.
    Raises InvoiceActionError when the invoice is not a routing return."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if not states.can_fix_routing(invoice.state, invoice.chorus_status,
                                      invoice.chorus_status_reason):
            raise InvoiceActionError(_("Seul un retour pour correction (A_RECYCLER) se corrige et "
                                       "se renvoie sous le même numéro."))
        invoice.service = service
        invoice.buyer_reference = service.code if service else ""
        invoice.po_number = po_number
        invoice.contract_reference = contract_reference
        invoice.full_clean()
        invoice.save(update_fields=["service", "buyer_reference", "po_number",
                                    "contract_reference", "updated_at"])
        events.user_note_event(
            invoice=invoice, actor=user,
            message=f"Acheminement corrigé : service {invoice.buyer_reference or '—'}, "
                    f"engagement {po_number or '—'}")
    return invoice


def _copy_data(invoice: Invoice, *, today: datetime.date) -> DraftData:
    account = invoice.account
    return DraftData(
        buyer=invoice.buyer, service=invoice.service, issue_date=today,
        due_date=today + datetime.timedelta(days=account.payment_terms_days),
        po_number=invoice.po_number, contract_reference=invoice.contract_reference,
        billing_framework=invoice.billing_framework, iban=invoice.iban, notes=invoice.notes,
    )


def credit_note_create(*, invoice_id: int, user=None) -> Invoice:
    """A draft credit note cancelling a deposited invoice in full: same buyer, routing and lines,
    a new number from the sequence, the credited invoice referenced (BT-25/26).
    Raises InvoiceActionError when the invoice was never deposited or is itself a credit note."""
    invoice = Invoice.objects.select_related("account", "buyer", "service").get(pk=invoice_id)
    if invoice.kind != Invoice.Kind.INVOICE or invoice.state not in states.DEPOSITED_STATES:
        raise InvoiceActionError(_("Un avoir se fait sur une facture déposée chez Chorus Pro."))
    today = timezone.localdate()
    data = _copy_data(invoice, today=today)
    data.due_date = today
    data.billing_framework = Invoice.BillingFramework.A1
    with transaction.atomic():
        credit_note = draft_create(account=invoice.account, data=data, lines=lines_of(invoice),
                                   user=user, kind=Invoice.Kind.CREDIT_NOTE,
                                   credited_invoice=invoice)
        events.user_note_event(invoice=invoice, actor=user,
                               message=f"Avoir {credit_note.number} préparé")
    return credit_note


def rejection_replace(*, invoice_id: int, user=None) -> tuple[Invoice, Invoice]:
    """For a rejected invoice (refused, REJETEE: dead at Chorus Pro, or a refusal whose kind
    B2Brouter does not say), prepares in one go the credit note that cancels it and a new draft
    invoice with the same content under a new number. Both are drafts, to check and send.
    Raises InvoiceActionError for any other invoice."""
    invoice = Invoice.objects.select_related("account", "buyer", "service").get(pk=invoice_id)
    if not states.can_replace(invoice.state, invoice.chorus_status, invoice.chorus_status_reason):
        raise InvoiceActionError(_("Seule une facture rejetée (REJETEE) se remplace par un avoir "
                                   "et une nouvelle facture."))
    with transaction.atomic():
        credit_note = credit_note_create(invoice_id=invoice.pk, user=user)
        replacement = draft_create(account=invoice.account,
                                   data=_copy_data(invoice, today=timezone.localdate()),
                                   lines=lines_of(invoice), user=user)
        events.user_note_event(
            invoice=invoice, actor=user,
            message=f"Remplacée par {replacement.number} (avoir {credit_note.number})")
    return credit_note, replacement


def attachment_add(*, invoice: Invoice, upload, user=None,
                   use_as_pdf_view: bool = False) -> InvoiceAttachment:
    """Joins a file (already checked against Chorus Pro's limits by the form) to a draft."""
    if not invoice.is_editable:
        raise InvoiceActionError(_("La facture a été envoyée : ses pièces jointes ne changent plus."))
    with transaction.atomic():
        attachment = InvoiceAttachment(invoice=invoice, original_name=upload.name, size=upload.size,
                                       content_type=getattr(upload, "content_type", "") or "",
                                       use_as_pdf_view=use_as_pdf_view)
        attachment.file.save(upload.name, upload, save=False)
        attachment.save()
        events.user_note_event(invoice=invoice, actor=user,
                               message=f"Pièce jointe ajoutée : {upload.name}")
    return attachment


def attachment_remove(*, attachment: InvoiceAttachment, user=None) -> None:
    invoice = attachment.invoice
    if not invoice.is_editable:
        raise InvoiceActionError(_("La facture a été envoyée : ses pièces jointes ne changent plus."))
    name = attachment.original_name
    with transaction.atomic():
        attachment.delete()
        events.user_note_event(invoice=invoice, actor=user,
                               message=f"Pièce jointe retirée : {name}")
    attachment.file.delete(save=False)

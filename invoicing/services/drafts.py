"""Drafts: create, edit and discard them with their lines, fix a routing return, join supporting
documents. A draft has no number: it gets one when it is issued (`numbering`); credit notes and
replacements are `crediting`'s.

Everything here writes, all or nothing, in one transaction; nothing here talks to B2Brouter
(sending is `submission.invoice_request_send`). Lines come in the one line shape
(`invoicing.lines.Line`); totals are always `invoice_recompute_totals`.
"""

import datetime
import logging
from dataclasses import dataclass, replace
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.models import Account
from invoicing import channels, checks, states, totals
from invoicing.attachments import ATTACHMENT_TYPES
from invoicing.lines import Line, lines_of
from invoicing.models import Invoice, InvoiceAttachment, InvoiceEvent, InvoiceLine
from invoicing.models import InvoiceState as S
from invoicing.services import events
from invoicing.services.errors import InvoiceActionError, InvoiceCheckFailed, locked_invoice

# The notes French invoices must carry, as a public buyer's invoice says them; an invoice to a
# company starts from the Code de commerce's (`invoicing.channels`).
DEFAULT_LEGAL_NOTES = channels.Chorus.default_notes

logger = logging.getLogger(__name__)


@dataclass
class DraftData:
    """The header of a draft as the form gives it; every field may be empty on a draft."""

    buyer: object = None
    service: object = None
    issue_date: datetime.date | None = None
    due_date: datetime.date | None = None
    po_number: str = ""
    contract_reference: str = ""
    billing_framework: str = Invoice.BillingFramework.A1
    iban: str = ""
    notes: str = ""
    # An invoice to a company's own mentions (`invoicing.channels.Company`); None otherwise.
    operation_category: str | None = None
    delivery_address: str | None = None
    vat_on_debits: bool | None = None


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
                   credited_invoice: Invoice | None = None, replaces: Invoice | None = None,
                   request_key: str = "", company: dict | None = None) -> Invoice:
    """Creates a draft invoice with its lines and totals, all or nothing. `number` is for
    invoices numbered elsewhere (imports, benchmarks); a draft from the form has none.

    Raises django's ValidationError (field errors) and saves nothing when a value is invalid.
    """
    invoice = Invoice(
        account=account,
        number=number,
        kind=kind,
        credited_invoice=credited_invoice,
        replaces=replaces,
        request_key=request_key,
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
        **(company or {}),
    )
    invoice.full_clean()
    _check_credited_lines(invoice, lines)
    invoice.save()
    for position, data in enumerate(lines, start=1):
        line = data.row(invoice=invoice, position=position)
        line.full_clean(exclude=["invoice"])
        line.save()
    invoice_recompute_totals(invoice=invoice)
    events.invoice_created_event(invoice=invoice, actor=user)
    return invoice


def _check_credited_lines(invoice: Invoice, lines: list[Line]) -> None:
    """A line credits a line of the invoice its credit note credits, and nothing else: not a
    line of another invoice, nor of another account (a hidden field can say anything). Raises
    ValidationError keyed by the line (`lines-<i>-description`), before anything is written."""
    allowed: set[int] = set()
    if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credited_invoice_id is not None:
        allowed = set(InvoiceLine.objects.filter(
            invoice_id=invoice.credited_invoice_id,
            invoice__account_id=invoice.account_id).values_list("pk", flat=True))
    problems = {}
    for index, line in enumerate(lines):
        if line.credited_line_id is not None and line.credited_line_id not in allowed:
            problems[f"lines-{index}-description"] = [
                _("Cette ligne ne vient pas de la facture créditée : retirez-la et saisissez-la "
                  "à nouveau.") if allowed else
                _("Cette ligne renvoie à la ligne d'une autre facture : retirez-la et "
                  "saisissez-la à nouveau.")]
    if problems:
        raise ValidationError(problems)


def invoice_defaults(*, account: Account, today: datetime.date | None = None) -> dict:
    """What a new invoice form starts with: dates from the payment terms, IBAN, notes."""
    today = today or timezone.localdate()
    return {
        "issue_date": today,
        "due_date": today + datetime.timedelta(days=account.payment_terms_days),
        "iban": account.iban,
        "billing_framework": Invoice.BillingFramework.A1,
        "notes": DEFAULT_LEGAL_NOTES,
    }


def _is_empty(data: DraftData, lines: list[Line]) -> bool:
    return data.buyer is None and not any(
        line.description or line.quantity or line.unit_price for line in lines)


EMPTY_DRAFT = gettext_lazy("La facture est vide : choisissez l'acheteur ou saisissez une ligne avant de "
                "l'enregistrer.")


def draft_create(*, account: Account, data: DraftData, lines: list[Line], user=None,
                 kind: str = Invoice.Kind.INVOICE, credited_invoice: Invoice | None = None,
                 replaces: Invoice | None = None, request_key: str = "") -> Invoice:
    """Creates a draft (no number yet: it gets one when issued) with its lines and totals, all
    or nothing. The same `request_key` twice (a double click) makes one draft: the first.
    Raises ValidationError by field; an empty draft (no buyer, no line) is not saved."""
    if _is_empty(data, lines):
        raise ValidationError({"__all__": [EMPTY_DRAFT]})
    with transaction.atomic():
        if request_key:
            existing = Invoice.objects.filter(account=account, request_key=request_key).first()
            if existing is not None:
                return existing
        return invoice_create(
            account=account, number="", buyer=data.buyer, service=data.service, lines=lines,
            issue_date=data.issue_date, due_date=data.due_date, po_number=data.po_number,
            contract_reference=data.contract_reference, billing_framework=data.billing_framework,
            iban=data.iban, notes=data.notes, user=user, kind=kind,
            credited_invoice=credited_invoice, replaces=replaces, request_key=request_key,
            company=_company_fields(data),
        )


def _company_fields(data: DraftData) -> dict:
    return {"operation_category": data.operation_category,
            "delivery_address": data.delivery_address, "vat_on_debits": data.vat_on_debits}


def draft_copy(*, invoice_id: int, user=None, request_key: str = "") -> Invoice:
    """A new draft with what the invoice says (buyer, service, routing, lines, notes), dated
    today with the account's payment terms; no number (it gets its own when issued), no
    attachment. A credit note is not copied: it only makes sense against its invoice. The same
    `request_key` twice (a double click) makes one copy."""
    source = Invoice.objects.select_related("account", "buyer", "service").get(pk=invoice_id)
    if source.kind == Invoice.Kind.CREDIT_NOTE:
        raise InvoiceActionError(_("Un avoir ne se copie pas : faites un avoir depuis sa facture."))
    defaults = invoice_defaults(account=source.account)
    service = source.service if source.service_id and source.service.active else None
    data = DraftData(buyer=source.buyer, service=service, issue_date=defaults["issue_date"],
                     due_date=defaults["due_date"], po_number=source.po_number,
                     contract_reference=source.contract_reference,
                     billing_framework=source.billing_framework,
                     iban=source.iban or source.account.iban, notes=source.notes,
                     operation_category=source.operation_category,
                     delivery_address=source.delivery_address,
                     vat_on_debits=source.vat_on_debits)
    lines = [replace(line, credited_line_id=None) for line in lines_of(source)]
    with transaction.atomic():
        draft = draft_create(account=source.account, data=data, lines=lines, user=user,
                             request_key=request_key)
        if not draft.events.filter(kind=InvoiceEvent.Kind.NOTE).exists():
            events.user_note_event(invoice=draft, actor=user, code="copied_from",
                                   source=source.number or str(source))
    return draft


def draft_update(*, invoice_id: int, data: DraftData, lines: list[Line], user=None) -> Invoice:
    """Replaces a draft's header and lines, recomputes its totals. All or nothing. (An invoice
    whose deposit failed is corrected the same way, under the number it keeps.)

    Raises InvoiceActionError when the invoice is no longer editable (sent meanwhile), and
    ValidationError by field.
    """
    if _is_empty(data, lines):
        raise ValidationError({"__all__": [EMPTY_DRAFT]})
    with transaction.atomic():
        invoice = locked_invoice(Invoice.objects.select_for_update(), invoice_id)
        if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credited_invoice_id:
            raise InvoiceActionError(_("Un avoir garde l'acheteur, le service, les références "
                                       "et les prix de sa facture : seul ce qu'il crédite se "
                                       "modifie, depuis sa page."))
        if not invoice.is_editable:
            raise InvoiceActionError(_("La facture %(number)s a été envoyée : elle ne se modifie "
                                       "plus.") % {"number": invoice.number})
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
        invoice.operation_category = data.operation_category
        invoice.delivery_address = data.delivery_address
        invoice.vat_on_debits = data.vat_on_debits
        invoice.full_clean()
        _check_credited_lines(invoice, lines)
        invoice.save()
        invoice.lines.all().delete()
        for position, line in enumerate(lines, start=1):
            row = line.row(invoice=invoice, position=position)
            row.full_clean(exclude=["invoice"])
            row.save()
        invoice_recompute_totals(invoice=invoice)
        events.user_note_event(invoice=invoice, actor=user, code="draft_changed")
    return invoice


def draft_discard(*, invoice_id: int, user=None) -> str:
    """Deletes a draft that was never issued (no number), with its lines, documents and
    history; returns how it was named. Raises InvoiceActionError for anything issued: an issued
    invoice is cancelled by a credit note, never deleted."""
    with transaction.atomic():
        invoice = locked_invoice(Invoice.objects.select_for_update(), invoice_id)
        if invoice.state != S.DRAFT or invoice.number:
            raise InvoiceActionError(_("La facture %(number)s est émise : elle ne se supprime pas "
                                       "(faites un avoir).") % {"number": invoice.number})
        name = str(invoice)
        files = [a.file for a in invoice.attachments.all()]
        invoice.events.all().delete()  # a draft's history only: the database allows no other
        invoice.attachments.all().delete()
        invoice.lines.all().delete()
        invoice.delete()
        transaction.on_commit(lambda: [f.delete(save=False) for f in files])
    logger.info("draft %s discarded by %s", name, getattr(user, "username", None))
    return name


def invoice_fix_routing(*, invoice_id: int, service, po_number: str, contract_reference: str,
                        user=None) -> Invoice:
    """Corrects the routing data of a routing return (refused for its routing: A_RECYCLER, or a
    refusal whose kind B2Brouter does not say): service, commitment, contract. The number, lines
    and amounts stay as deposited. Resending is `submission.invoice_request_send`, which starts a
    new submission round under the same number (`submission.invoice_fix_and_resend` does both).

    Checked first, applied all or nothing: a correction the pre-send checks refuse (a closed
    service, a commitment the buyer requires left empty) raises InvoiceCheckFailed and changes
    nothing, its history included. Raises InvoiceActionError when the invoice is not a routing
    return."""
    with transaction.atomic():
        invoice = locked_invoice(Invoice.objects.select_for_update(), invoice_id)
        if not states.can_fix_routing(invoice.state, invoice.chorus_status,
                                      invoice.chorus_status_reason,
                                      final=invoice.refusal_is_final):
            raise InvoiceActionError(_("Seule une facture retournée pour correction du routage se corrige et "
                                       "se renvoie sous le même numéro."))
        invoice.service = service
        invoice.buyer_reference = service.code if service else ""
        invoice.po_number = po_number
        invoice.contract_reference = contract_reference
        invoice.full_clean()
        problems = checks.invoice_problems(invoice, list(invoice.lines.all()))
        if problems:
            raise InvoiceCheckFailed(invoice.number, problems)
        invoice.save(update_fields=["service", "buyer_reference", "po_number",
                                    "contract_reference", "updated_at"])
        events.user_note_event(invoice=invoice, actor=user, code="routing_fixed",
                               service=invoice.buyer_reference or "—",
                               po_number=po_number or "—")
    return invoice


def attachment_add(*, invoice: Invoice, upload, user=None,
                   use_as_pdf_view: bool = False) -> InvoiceAttachment:
    """Joins a file (already checked against Chorus Pro's limits by the form) to a draft. Its
    type is its extension's (the browser's Content-Type is not trusted). All or nothing: if
    anything fails once the file is written, the file is removed too."""
    attachment = InvoiceAttachment(
        invoice=invoice, original_name=upload.name, size=upload.size,
        content_type=ATTACHMENT_TYPES.get(PurePath(upload.name).suffix.lower(),
                                          "application/octet-stream"),
        use_as_pdf_view=use_as_pdf_view)
    try:
        with transaction.atomic():
            # Locked, and read again: sent or deleted since the page was shown, it takes nothing.
            if not locked_invoice(Invoice.objects.select_for_update(), invoice.pk).is_editable:
                raise InvoiceActionError(_("La facture a été envoyée : ses pièces jointes ne "
                                           "changent plus."))
            attachment.file.save(upload.name, upload, save=False)
            attachment.save()
            events.user_note_event(invoice=invoice, actor=user, code="attachment_added",
                                   name=upload.name)
    except BaseException:
        if attachment.file.name:
            attachment.file.delete(save=False)
        raise
    return attachment


def attachment_remove(*, attachment: InvoiceAttachment, user=None) -> None:
    """Removes a document from a draft (and its file, once that is committed)."""
    name = attachment.original_name
    with transaction.atomic():
        invoice = locked_invoice(Invoice.objects.select_for_update(), attachment.invoice_id)
        if not invoice.is_editable:
            raise InvoiceActionError(_("La facture a été envoyée : ses pièces jointes ne "
                                       "changent plus."))
        attachment.delete()
        events.user_note_event(invoice=invoice, actor=user, code="attachment_removed",
                               name=name)
        transaction.on_commit(lambda: attachment.file.delete(save=False))
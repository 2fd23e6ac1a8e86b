"""Credit notes: what an invoice has had credited, what remains, and the corrective actions
(credit note, credit note + replacement) made once however often they are asked for.

The credit notes of an invoice never credit more than it says: in amount (excluding and
including VAT), and per line in quantity. Every credit note counts, from the moment it is
prepared (a draft reserves what it credits, so that two drafts cannot both credit the whole
invoice) until it is discarded. The limits are checked when a credit note is prepared and again
when it is issued, under a lock on the credited invoice's row: two requests at once (a double
click, two colleagues) never both get through.
"""

import datetime
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from invoicing import states, totals
from invoicing.lines import Line, lines_of
from invoicing.models import ZERO, Invoice, InvoiceLine
from invoicing.services import events
from invoicing.services.drafts import DraftData, draft_create
from invoicing.services.errors import InvoiceActionError


@dataclass(frozen=True)
class LineCredit:
    line: InvoiceLine
    credited: Decimal  # quantity credited so far (drafts included)
    credited_amount: Decimal = ZERO  # its amount excluding VAT

    @property
    def remaining(self) -> Decimal:
        return max(self.line.quantity - self.credited, Decimal(0))

    @property
    def remaining_amount(self) -> Decimal:
        return max(self.line.line_total - self.credited_amount, ZERO)


# Each credit note's VAT is computed on its own base, rounded per rate: crediting an invoice in
# several parts may round one cent per rate above the invoice's VAT. That much is let through.
VAT_ROUNDING_SLACK = Decimal("0.01")


@dataclass(frozen=True)
class CreditStatus:
    """What an invoice has had credited (its credit notes, drafts included), and what remains."""

    invoice: Invoice
    credit_notes: list[Invoice]
    subtotal_credited: Decimal
    total_credited: Decimal
    lines: list[LineCredit] = field(default_factory=list)

    @property
    def subtotal_remaining(self) -> Decimal:
        return max(self.invoice.subtotal - self.subtotal_credited, ZERO)

    @property
    def total_remaining(self) -> Decimal:
        return max(self.invoice.total - self.total_credited, ZERO)

    @property
    def fully_credited(self) -> bool:
        return self.total_remaining == 0 or all(c.remaining == 0 for c in self.lines)

    @property
    def issued_total_credited(self) -> Decimal:
        return sum((c.total for c in self.credit_notes if c.is_issued), ZERO)


def _credit_notes(invoice: Invoice, *, exclude_pk=None) -> list[Invoice]:
    """The credit notes that count: all but a rejected one (dead at Chorus Pro)."""
    notes = invoice.credit_notes.filter(kind=Invoice.Kind.CREDIT_NOTE).order_by("created_at", "pk")
    if exclude_pk is not None:
        notes = notes.exclude(pk=exclude_pk)
    return [note for note in notes if note.refusal_kind != states.REJECTION]


def credit_status(invoice: Invoice, *, exclude_pk=None) -> CreditStatus:
    """The credit notes of `invoice` and what they credit (leaving out `exclude_pk`, the credit
    note being checked)."""
    notes = _credit_notes(invoice, exclude_pk=exclude_pk)
    quantity: dict[int, Decimal] = {}
    amount: dict[int, Decimal] = {}
    for row in InvoiceLine.objects.filter(invoice__in=notes, credited_line__isnull=False):
        quantity[row.credited_line_id] = quantity.get(row.credited_line_id, Decimal(0)) + row.quantity
        amount[row.credited_line_id] = amount.get(row.credited_line_id, ZERO) + row.line_total
    return CreditStatus(
        invoice=invoice, credit_notes=notes,
        subtotal_credited=sum((n.subtotal for n in notes), ZERO),
        total_credited=sum((n.total for n in notes), ZERO),
        lines=[LineCredit(line, quantity.get(line.pk, Decimal(0)), amount.get(line.pk, ZERO))
               for line in invoice.lines.all()],
    )


def credit_problems(credit_note: Invoice, lines: list | None = None) -> dict[str, list[str]]:
    """What makes this credit note credit more than its invoice has left ({} when nothing).
    Keys as the pre-send checks': `__all__`, `lines-<i>-quantity`."""
    invoice = credit_note.credited_invoice
    if credit_note.kind != Invoice.Kind.CREDIT_NOTE or invoice is None:
        return {}
    lines = list(credit_note.lines.all()) if lines is None else lines
    status = credit_status(invoice, exclude_pk=credit_note.pk)
    problems: dict[str, list[str]] = {}
    by_line = {c.line.pk: c for c in status.lines}
    for index, line in enumerate(lines):
        credit = by_line.get(line.credited_line_id)
        if line.credited_line_id is not None and credit is None:
            problems.setdefault(f"lines-{index}-description", []).append(
                _("Cette ligne ne vient pas de la facture %(number)s.") % {"number": invoice.number})
        elif credit is not None and line.quantity > credit.remaining:
            problems.setdefault(f"lines-{index}-quantity", []).append(
                _("Au plus %(remaining)s à créditer sur cette ligne (%(quantity)s facturés, "
                  "%(credited)s déjà crédités).") % {
                    "remaining": _plain(credit.remaining), "quantity": _plain(credit.line.quantity),
                    "credited": _plain(credit.credited)})
    result = totals.compute(lines)
    slack = VAT_ROUNDING_SLACK * len(result.breakdown)
    if result.subtotal > status.subtotal_remaining or \
            result.total > status.total_remaining + slack:
        problems.setdefault("__all__", []).append(
            _("Cet avoir (%(total)s € TTC) dépasse ce qui reste à créditer sur la facture "
              "%(number)s : %(remaining)s € TTC.") % {
                "total": result.total, "number": invoice.number,
                "remaining": status.total_remaining})
    return problems


def _price(credit: LineCredit, quantity: Decimal) -> Decimal:
    """The unit price that credits `quantity` of the line. Its own, except for the last part of
    a line credited in several: priced so that the parts add up to the line's amount to the
    cent, never more (each part is rounded on its own)."""
    price = credit.line.unit_price
    if quantity != credit.remaining or credit.credited == 0:
        return price
    target = credit.remaining_amount
    if totals.line_total(quantity, price) <= target:
        return price
    step = Decimal("0.000001")
    candidate = (target / quantity).quantize(step)
    for _step in range(1000):  # a few steps at most: each moves the amount by < 1 cent
        if totals.line_total(quantity, candidate) <= target:
            return candidate
        candidate -= step
    return candidate


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _copy_data(invoice: Invoice, *, today: datetime.date):
    account = invoice.account
    return DraftData(
        buyer=invoice.buyer, service=invoice.service, issue_date=today,
        due_date=today + datetime.timedelta(days=account.payment_terms_days),
        po_number=invoice.po_number, contract_reference=invoice.contract_reference,
        billing_framework=invoice.billing_framework, iban=invoice.iban, notes=invoice.notes,
    )


def _locked(invoice_id: int) -> Invoice:
    return (Invoice.objects.select_for_update(of=("self",))
            .select_related("account", "buyer", "service").get(pk=invoice_id))


def credit_note_create(*, invoice_id: int, quantities: dict[int, Decimal] | None = None,
                       user=None, request_key: str = "") -> Invoice:
    """A draft credit note on a deposited invoice: same buyer and routing, the credited invoice
    referenced (BT-25/26), its lines those of the invoice for what remains to credit, or for
    `quantities` ({line id: quantity}) when given (a partial credit note). Numbered when issued.

    Made once per `request_key` (the form's: a double click gets the same draft). Raises
    InvoiceActionError when the invoice cannot be credited, or not for that much."""
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if request_key:
            existing = Invoice.objects.filter(account_id=invoice.account_id,
                                              request_key=request_key).first()
            if existing is not None:
                return existing
        if invoice.kind != Invoice.Kind.INVOICE or invoice.state not in states.DEPOSITED_STATES:
            raise InvoiceActionError(_("Un avoir se fait sur une facture déposée chez Chorus Pro."))
        status = credit_status(invoice)
        lines = []
        for credit in status.lines:
            wanted = credit.remaining if quantities is None else quantities.get(credit.line.pk, 0)
            wanted = Decimal(wanted)
            if wanted < 0 or wanted > credit.remaining:
                raise InvoiceActionError(
                    _("« %(line)s » : au plus %(remaining)s à créditer.")
                    % {"line": credit.line.description, "remaining": _plain(credit.remaining)})
            if wanted:
                lines.append(replace(Line.of(credit.line), quantity=wanted,
                                     unit_price=_price(credit, wanted),
                                     credited_line_id=credit.line.pk))
        if not lines:
            raise InvoiceActionError(
                _("La facture %(number)s est déjà entièrement créditée.")
                % {"number": invoice.number} if status.fully_credited
                else _("Indiquez au moins une quantité à créditer."))
        today = timezone.localdate()
        data = _copy_data(invoice, today=today)
        data.due_date = today
        data.billing_framework = Invoice.BillingFramework.A1
        credit_note = draft_create(account=invoice.account, data=data, lines=lines, user=user,
                                   kind=Invoice.Kind.CREDIT_NOTE, credited_invoice=invoice,
                                   request_key=request_key)
        problems = credit_problems(credit_note)
        if problems:  # rounding: the lines fit, their total does not
            raise InvoiceActionError(" ".join(m for ms in problems.values() for m in ms))
        events.user_note_event(invoice=invoice, actor=user,
                               message=f"Avoir préparé (brouillon n° {credit_note.pk})")
    return credit_note


def rejection_replace(*, invoice_id: int, user=None) -> tuple[Invoice, Invoice]:
    """For a rejected invoice (REJETEE: dead at Chorus Pro, or a refusal whose kind B2Brouter
    does not say), prepares in one go the credit note that cancels it and a new draft invoice
    with the same content. Both are drafts, numbered when issued. Asked again (a double click,
    another tab), it hands back the pair already prepared. Raises InvoiceActionError for any
    other invoice."""
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if not states.can_replace(invoice.state, invoice.chorus_status,
                                  invoice.chorus_status_reason):
            raise InvoiceActionError(_("Seule une facture rejetée (REJETEE) se remplace par un "
                                       "avoir et une nouvelle facture."))
        replacement = invoice.replacements.order_by("pk").first()
        if replacement is not None:
            credit_note = invoice.credit_notes.order_by("pk").last()
            return credit_note, replacement
        status = credit_status(invoice)
        if status.fully_credited:
            raise InvoiceActionError(_("La facture %(number)s est déjà entièrement créditée : "
                                       "émettez la nouvelle facture à part.")
                                     % {"number": invoice.number})
        credit_note = credit_note_create(invoice_id=invoice.pk, user=user)
        replacement = draft_create(account=invoice.account,
                                   data=_copy_data(invoice, today=timezone.localdate()),
                                   lines=lines_of(invoice), user=user, replaces=invoice)
        events.user_note_event(
            invoice=invoice, actor=user,
            message=f"Remplacement préparé : avoir et nouvelle facture "
                    f"(brouillons n° {credit_note.pk} et {replacement.pk})")
    return credit_note, replacement


def can_replace(invoice: Invoice) -> bool:
    """Whether "credit note + new invoice" is still to offer: a rejection not replaced yet."""
    return (states.can_replace(invoice.state, invoice.chorus_status, invoice.chorus_status_reason)
            and not invoice.replacements.exists())

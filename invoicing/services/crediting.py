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

from core.templatetags.amounts import money
from core.templatetags.amounts import quantity as quantity_text
from invoicing import states, totals
from invoicing.lines import Line, lines_of
from invoicing.models import ZERO, Invoice, InvoiceLine
from invoicing.services import events
from invoicing.services.drafts import DraftData, draft_create, invoice_recompute_totals
from invoicing.services.errors import InvoiceActionError, locked_invoice


@dataclass(frozen=True)
class LineCredit:
    line: InvoiceLine
    credited: Decimal  # quantity credited so far (drafts included)
    credited_amount: Decimal = ZERO  # its amount excluding VAT

    @property
    def remaining(self) -> Decimal:
        """The quantity still to credit: none once the line's whole amount is credited."""
        if self.remaining_amount == 0:
            return Decimal(0)
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
        if not row.credit_by_amount:  # an amount credited leaves the quantity to credit
            quantity[row.credited_line_id] = (quantity.get(row.credited_line_id, Decimal(0))
                                              + row.quantity)
        amount[row.credited_line_id] = amount.get(row.credited_line_id, ZERO) + row.line_total
    return CreditStatus(
        invoice=invoice, credit_notes=notes,
        subtotal_credited=sum((n.subtotal for n in notes), ZERO),
        total_credited=sum((n.total for n in notes), ZERO),
        lines=[LineCredit(line, quantity.get(line.pk, Decimal(0)), amount.get(line.pk, ZERO))
               for line in invoice.lines.all()],
    )


def credit_problems(credit_note: Invoice, lines: list | None = None) -> dict[str, list[str]]:
    """What makes this credit note other than a credit of its invoice, or more than its invoice
    has left ({} when nothing). A credit note keeps its invoice's buyer, service, references and
    unit prices; each line credits a line of the invoice, a quantity within what remains (at its
    price) or an amount within what remains. Keys as the pre-send checks': `__all__`,
    `lines-<i>-quantity`, `lines-<i>-description`."""
    invoice = credit_note.credited_invoice
    if credit_note.kind != Invoice.Kind.CREDIT_NOTE or invoice is None:
        return {}
    lines = list(credit_note.lines.all()) if lines is None else lines
    status = credit_status(invoice, exclude_pk=credit_note.pk)
    problems: dict[str, list[str]] = {}
    # Its routing is its invoice's until Chorus Pro sends it back for its routing (a routing
    # return of an issued credit note is corrected like an invoice's); its buyer, always.
    routing = ("service_id", "po_number", "contract_reference") if not credit_note.number else ()
    if any(getattr(credit_note, name) != getattr(invoice, name)
           for name in ("buyer_id", *routing)):
        problems.setdefault("__all__", []).append(
            _("Un avoir garde l'acheteur, le service et les références de la facture "
              "%(number)s.") % {"number": invoice.number})
    by_line = {c.line.pk: c for c in status.lines}
    for index, line in enumerate(lines):
        credit = by_line.get(line.credited_line_id)
        if credit is None:
            problems.setdefault(f"lines-{index}-description", []).append(
                _("Cette ligne ne vient pas de la facture %(number)s.") % {"number": invoice.number})
        elif line.credit_by_amount:
            if totals.line_total(line.quantity, line.unit_price) > credit.remaining_amount:
                problems.setdefault(f"lines-{index}-quantity", []).append(
                    _("Au plus %(remaining)s HT à créditer sur cette ligne.")
                    % {"remaining": money(credit.remaining_amount)})
        elif line.quantity > credit.remaining or totals.line_total(
                line.quantity, line.unit_price) > credit.remaining_amount:
            problems.setdefault(f"lines-{index}-quantity", []).append(
                _("Au plus %(remaining)s à créditer sur cette ligne (%(quantity)s facturés, "
                  "%(credited)s déjà crédités).") % {
                    "remaining": quantity_text(credit.remaining),
                    "quantity": quantity_text(credit.line.quantity),
                    "credited": quantity_text(credit.credited)})
        elif line.unit_price > credit.line.unit_price or (
                line.vat_category, line.vat_rate) != (credit.line.vat_category,
                                                      credit.line.vat_rate):
            problems.setdefault(f"lines-{index}-quantity", []).append(
                _("Cette ligne doit garder le prix et la TVA de la facture %(number)s.")
                % {"number": invoice.number})
    result = totals.compute(lines)
    slack = VAT_ROUNDING_SLACK * len(result.breakdown)
    if result.subtotal > status.subtotal_remaining or \
            result.total > status.total_remaining + slack:
        problems.setdefault("__all__", []).append(
            _("Cet avoir (%(total)s TTC) dépasse ce qui reste à créditer sur la facture "
              "%(number)s : %(remaining)s TTC.") % {
                "total": money(result.total), "number": invoice.number,
                "remaining": money(status.total_remaining)})
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


def _copy_data(invoice: Invoice, *, today: datetime.date):
    account = invoice.account
    return DraftData(
        buyer=invoice.buyer, service=invoice.service, issue_date=today,
        due_date=today + datetime.timedelta(days=account.payment_terms_days),
        po_number=invoice.po_number, contract_reference=invoice.contract_reference,
        billing_framework=invoice.billing_framework, iban=invoice.iban, notes=invoice.notes,
        operation_category=invoice.operation_category, delivery_address=invoice.delivery_address,
        vat_on_debits=invoice.vat_on_debits,
    )


def _locked(invoice_id: int) -> Invoice:
    return (Invoice.objects.select_for_update(of=("self",))
            .select_related("account", "buyer", "service").get(pk=invoice_id))


@dataclass(frozen=True)
class Credit:
    """What a credit note credits, as typed: a quantity of some lines, an amount (excluding VAT)
    of others, or an amount including VAT on the whole invoice. `Credit()` credits nothing;
    None (where a Credit is asked for) credits all that remains."""

    quantities: dict = field(default_factory=dict)  # {line id: quantity}
    amounts: dict = field(default_factory=dict)  # {line id: amount excluding VAT}
    total: Decimal | None = None  # including VAT, shared among the lines left to credit


class CreditRefused(InvoiceActionError):
    """What was typed credits nothing, or more than remains: `problems` by field of the credit
    note form (`qty-<line id>`, `amount-<line id>`, `total`, `__all__`)."""

    def __init__(self, problems: dict[str, list[str]]):
        self.problems = problems
        super().__init__(" ".join(m for ms in problems.values() for m in ms))


def _amount_line(credit: LineCredit, amount: Decimal) -> Line:
    return replace(Line.of(credit.line), quantity=Decimal(1), unit_price=amount,
                   credited_line_id=credit.line.pk, credit_by_amount=True)


def _shared_total(status: CreditStatus, total: Decimal) -> dict[int, Decimal]:
    """An amount including VAT shared among the lines left to credit, in proportion of what
    each has left (including its VAT): {line id: amount excluding VAT}, each within its line's
    remainder, the last line taking what rounding left."""
    open_lines = [c for c in status.lines if c.remaining_amount > 0]
    weights = [c.remaining_amount * (1 + c.line.vat_rate / 100) for c in open_lines]
    whole = sum(weights, ZERO)
    shares: dict[int, Decimal] = {}
    given = ZERO
    for index, (credit, weight) in enumerate(zip(open_lines, weights, strict=True)):
        part = (total - given if index == len(open_lines) - 1
                else totals.round_money(total * weight / whole))
        given += part
        shares[credit.line.pk] = min(credit.remaining_amount,
                                     totals.round_money(part / (1 + credit.line.vat_rate / 100)))
    return {pk: amount for pk, amount in shares.items() if amount > 0}


def credit_lines(status: CreditStatus, credit: Credit | None) -> list[Line]:
    """The credit note's lines for what is typed (all that remains for None), in the invoice's
    order. Raises CreditRefused with each problem beside its field."""
    problems: dict[str, list[str]] = {}
    if credit is None:  # all that remains: by quantity, or by amount where one was credited
        by_amount = {c.line.pk: c.remaining_amount for c in status.lines
                     if totals.line_total(c.remaining, _price(c, c.remaining))
                     > c.remaining_amount}
        credit = Credit(quantities={c.line.pk: c.remaining for c in status.lines
                                    if c.line.pk not in by_amount}, amounts=by_amount)
    amounts = dict(credit.amounts)
    if credit.total is not None:
        if credit.quantities or credit.amounts:
            problems["total"] = [_("Un montant total, ou des quantités et montants par ligne : "
                                   "pas les deux.")]
        elif credit.total <= 0:
            problems["total"] = [_("Le montant doit être positif.")]
        elif credit.total > status.total_remaining:
            problems["total"] = [_("Au plus %(remaining)s TTC : le reste à créditer.")
                                 % {"remaining": money(status.total_remaining)}]
        else:
            amounts = _shared_total(status, credit.total)
    lines = []
    for line_credit in status.lines:
        pk = line_credit.line.pk
        wanted, amount = credit.quantities.get(pk) or Decimal(0), amounts.get(pk) or ZERO
        if wanted and amount:
            problems[f"qty-{pk}"] = [_("Une quantité ou un montant : pas les deux.")]
        elif wanted < 0 or amount < 0:
            problems[f"qty-{pk}" if wanted < 0 else f"amount-{pk}"] = [
                _("Le nombre doit être positif.")]
        elif wanted > line_credit.remaining:
            problems[f"qty-{pk}"] = [_("Au plus %(remaining)s : le reste à créditer.")
                                     % {"remaining": quantity_text(line_credit.remaining)}]
        elif amount > line_credit.remaining_amount:
            problems[f"amount-{pk}"] = [_("Au plus %(remaining)s HT : le reste à créditer.")
                                        % {"remaining": money(line_credit.remaining_amount)}]
        elif wanted and totals.line_total(wanted, _price(line_credit, wanted)) \
                > line_credit.remaining_amount:
            problems[f"qty-{pk}"] = [_("Il ne reste que %(remaining)s HT à créditer sur cette "
                                       "ligne : créditez un montant.")
                                     % {"remaining": money(line_credit.remaining_amount)}]
        elif wanted:
            lines.append(replace(Line.of(line_credit.line), quantity=wanted,
                                 unit_price=_price(line_credit, wanted), credited_line_id=pk))
        elif amount:
            lines.append(_amount_line(line_credit, amount))
    if not lines and not problems:
        problems["__all__"] = [
            _("La facture %(number)s est déjà entièrement créditée.")
            % {"number": status.invoice.number} if status.fully_credited
            else _("Indiquez ce qui est crédité : une quantité ou un montant sur au moins une "
                   "ligne, ou un montant total.")]
    if problems:
        raise CreditRefused(problems)
    return lines


def credit_note_create(*, invoice_id: int, credit: Credit | None = None, user=None,
                       request_key: str = "") -> Invoice:
    """A draft credit note on a deposited invoice: same buyer and routing, the credited invoice
    referenced (BT-25/26), its lines those of the invoice for what `credit` says (all that
    remains for None). Numbered when issued.

    Made once per `request_key` (the form's: a double click gets the same draft). Raises
    InvoiceActionError when the invoice cannot be credited (CreditRefused: not for that)."""
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if request_key:
            existing = Invoice.objects.filter(account_id=invoice.account_id,
                                              request_key=request_key).first()
            if existing is not None:
                return existing
        if invoice.kind != Invoice.Kind.INVOICE or invoice.state not in states.DEPOSITED_STATES:
            raise InvoiceActionError(_("Un avoir se fait sur une facture déposée chez Chorus Pro."))
        lines = credit_lines(credit_status(invoice), credit)
        today = timezone.localdate()
        data = _copy_data(invoice, today=today)
        data.due_date = today
        data.billing_framework = Invoice.BillingFramework.A1
        credit_note = draft_create(account=invoice.account, data=data, lines=lines, user=user,
                                   kind=Invoice.Kind.CREDIT_NOTE, credited_invoice=invoice,
                                   request_key=request_key)
        problems = credit_problems(credit_note)
        if problems:  # rounding: the lines fit, their total does not
            raise CreditRefused(problems)
        events.user_note_event(invoice=invoice, actor=user, code="credit_note_prepared",
                               draft=credit_note.pk)
    return credit_note


def credit_note_update(*, credit_note_id: int, credit: Credit, user=None) -> Invoice:
    """Changes what a draft credit note credits; its buyer, service, references and prices stay
    its invoice's. All or nothing, under the credited invoice's lock. Raises InvoiceActionError
    (CreditRefused: not for that; or the credit note was issued or deleted meanwhile)."""
    with transaction.atomic():
        credit_note = locked_invoice(Invoice.objects.select_for_update(of=("self",)),
                                     credit_note_id)
        if credit_note.kind != Invoice.Kind.CREDIT_NOTE or not credit_note.credited_invoice_id:
            raise InvoiceActionError(_("Ce n'est pas un avoir."))
        if not credit_note.is_editable or credit_note.number:
            raise InvoiceActionError(_("L'avoir %(number)s est émis : il ne se modifie plus.")
                                     % {"number": credit_note.number})
        invoice = _locked(credit_note.credited_invoice_id)
        lines = credit_lines(credit_status(invoice, exclude_pk=credit_note.pk), credit)
        problems = credit_problems(credit_note, lines)
        if problems:
            raise CreditRefused(problems)
        credit_note.lines.all().delete()
        for position, line in enumerate(lines, start=1):
            row = line.row(invoice=credit_note, position=position)
            row.full_clean(exclude=["invoice"])
            row.save()
        invoice_recompute_totals(invoice=credit_note)
        events.user_note_event(invoice=credit_note, actor=user, code="credit_note_changed")
    return credit_note


def credit_of(credit_note: Invoice) -> Credit:
    """What a draft credit note credits, as its form shows it."""
    quantities, amounts = {}, {}
    for line in credit_note.lines.all():
        if line.credited_line_id is None:
            continue
        if line.credit_by_amount:
            amounts[line.credited_line_id] = line.line_total
        else:
            quantities[line.credited_line_id] = line.quantity
    return Credit(quantities=quantities, amounts=amounts)


def rejection_replace(*, invoice_id: int, user=None) -> tuple[Invoice, Invoice]:
    """For a rejected invoice (REJETEE: dead at Chorus Pro, or a refusal whose kind B2Brouter
    does not say), prepares in one go the credit note that cancels it and a new draft invoice
    with the same content. Both are drafts, numbered when issued. Asked again (a double click,
    another tab), it hands back the pair already prepared. Raises InvoiceActionError for any
    other invoice."""
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if invoice.kind == Invoice.Kind.CREDIT_NOTE:
            raise InvoiceActionError(_("Un avoir rejeté ne crédite plus rien : faites un nouvel "
                                       "avoir sur la facture %(number)s.")
                                     % {"number": invoice.credited_invoice.number
                                        if invoice.credited_invoice_id else ""})
        if not states.can_replace(invoice.state, invoice.chorus_status,
                                  invoice.chorus_status_reason,
                                  final=invoice.refusal_is_final):
            raise InvoiceActionError(_("Seule une facture rejetée par Chorus Pro se remplace par un "
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
        events.user_note_event(invoice=invoice, actor=user, code="replacement_prepared",
                               credit_note=credit_note.pk, replacement=replacement.pk)
    return credit_note, replacement


def can_replace(invoice: Invoice) -> bool:
    """Whether "credit note + new invoice" is still to offer: a rejection not replaced yet."""
    return (invoice.kind == Invoice.Kind.INVOICE
            and states.can_replace(invoice.state, invoice.chorus_status,
                                   invoice.chorus_status_reason,
                                   final=invoice.refusal_is_final)
            and not invoice.replacements.exists())

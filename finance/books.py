"""The books: a period's sales and receipts as accounting entries in the French standard
"Fichier des Écritures Comptables" (article A47 A-1 of the Livre des procédures fiscales): the
18 columns, tab-separated, dates AAAAMMJJ, amounts with a decimal comma, each entry balanced,
entries numbered in sequence within each journal. Streamed: a month of a busy account is
written row by row, in constant memory.

- A sale (sales journal): debit the customer account (incl. VAT, the buyer as auxiliary
  account), credit the revenue account per VAT rate (services or goods) and the VAT collected
  per rate. A credit note: the same, reversed.
- A payment received (bank journal): debit the bank, credit the customer; a counter-entry the
  reverse. The customer lines of a settled invoice and of its payments are lettered together.
"""

import datetime
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Max, Q, Sum

from core.models import Account
from finance.models import Payment
from invoicing import totals
from invoicing.models import Invoice, InvoiceLine
from invoicing.models import InvoiceState as S

COLUMNS = ("JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum",
           "CompteLib", "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib",
           "Debit", "Credit", "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise")
ZERO = Decimal("0.00")
NOT_ISSUED = (S.DRAFT, S.QUEUED, S.SUBMITTING, S.FAILED)


def _date(value: datetime.date) -> str:
    return value.strftime("%Y%m%d")


def _amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _text(value: str) -> str:
    """A free text as one cell: no tab, no line break."""
    return " ".join(str(value or "").split())


def file_name(account: Account, closing: datetime.date) -> str:
    return f"{account.siren}FEC{_date(closing)}.txt"


def _customer(invoice: Invoice) -> tuple[str, str]:
    buyer = invoice.buyer
    return (f"C{buyer.siret}" if buyer else "C-", _text(buyer.name if buyer else ""))


def _settled(invoice_ids) -> dict[int, datetime.date]:
    """The invoices whose payments cover them, with the date of their last payment (a payment
    reversed, and its counter-entry, aside): one query for a chunk of invoices."""
    paid = (Payment.objects.filter(invoice_id__in=invoice_ids).values("invoice_id")
            .annotate(total=Sum("amount"), payable=Max("invoice__payable_amount"),
                      last=Max("received_on", filter=Q(reverses__isnull=True,
                                                       reversed_by__isnull=True))))
    return {row["invoice_id"]: row["last"] for row in paid
            if row["last"] and row["total"] >= row["payable"] > 0}


def entries(account: Account, start: datetime.date, end: datetime.date) -> Iterator[list[str]]:
    """Every line of the period's entries, the sales journal first, then the bank's."""
    invoices = (Invoice.objects.filter(account=account, issue_date__gte=start,
                                       issue_date__lte=end).exclude(number="")
                .exclude(state__in=NOT_ISSUED).select_related("buyer").order_by("number", "pk"))
    number = 0
    for chunk in _chunks(invoices, 500):
        settled_cache = _settled([invoice.pk for invoice in chunk])
        lines_of = {}
        for line in InvoiceLine.objects.filter(invoice__in=chunk).order_by("invoice_id",
                                                                            "position"):
            lines_of.setdefault(line.invoice_id, []).append(line)
        for invoice in chunk:
            number += 1
            yield from _sale(account, invoice, lines_of.get(invoice.pk, []), number,
                             settled_cache.get(invoice.pk))
    payments = (Payment.objects.filter(account=account, received_on__gte=start,
                                       received_on__lte=end)
                .select_related("invoice", "invoice__buyer").order_by("received_on", "pk"))
    number = 0
    for chunk in _chunks(payments, 500):
        settled_cache = _settled({p.invoice_id for p in chunk})
        for payment in chunk:
            number += 1
            yield from _receipt(account, payment, number, settled_cache.get(payment.invoice_id))


def _chunks(queryset, size: int):
    chunk = []
    for item in queryset.iterator(chunk_size=size):
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _row(journal, label, number, date, account_number, account_label, aux, aux_label, piece,
         piece_date, text, debit, credit, letter="", letter_date=None) -> list[str]:
    return [journal, label, f"{journal}{number:06d}", _date(date), account_number, account_label,
            aux, aux_label, piece, _date(piece_date), _text(text), _amount(debit),
            _amount(credit), letter, _date(letter_date) if letter_date else "", _date(date), "",
            ""]


def _sale(account: Account, invoice: Invoice, lines, number: int, settled_on):
    credit_note = invoice.kind == Invoice.Kind.CREDIT_NOTE
    date = invoice.issue_date
    aux, aux_label = _customer(invoice)
    what = ("Avoir" if credit_note else "Facture") + f" {invoice.number} {aux_label}"
    revenue = (account.fec_goods_account if invoice.operation_category == "goods"
               else account.fec_services_account)
    journal, label = account.fec_sales_journal, "Ventes"
    letter = invoice.number if settled_on and not credit_note else ""

    def side(amount: Decimal, debit_first: bool) -> tuple[Decimal, Decimal]:
        return (amount, ZERO) if debit_first else (ZERO, amount)

    yield _row(journal, label, number, date, account.fec_customer_account, "Clients", aux,
               aux_label, invoice.number, date, what, *side(invoice.total, not credit_note),
               letter, settled_on if letter else None)
    breakdown = totals.compute(lines).breakdown
    for row in breakdown:
        rate = f"{row.category} {format(row.rate, 'f').rstrip('0').rstrip('.') or '0'} %"
        yield _row(journal, label, number, date, revenue, "Ventes", "", "", invoice.number,
                   date, f"{what} HT {rate}", *side(row.base, credit_note))
        if row.amount:
            yield _row(journal, label, number, date, account.fec_vat_account,
                       "TVA collectée", "", "", invoice.number, date, f"{what} TVA {rate}",
                       *side(row.amount, credit_note))


def _receipt(account: Account, payment: Payment, number: int, settled_on):
    invoice = payment.invoice
    aux, aux_label = _customer(invoice)
    amount = abs(payment.amount)
    money_in = payment.amount > 0
    text = (f"Règlement {invoice.number} {aux_label}" if money_in
            else f"Annulation règlement {invoice.number} {aux_label}")
    journal, label = account.fec_bank_journal, "Banque"
    letter = invoice.number if settled_on and money_in and not payment.is_reversal else ""
    piece = _text(payment.reference) or invoice.number
    yield _row(journal, label, number, payment.received_on, account.fec_bank_account, "Banque",
               "", "", piece, payment.received_on, text,
               amount if money_in else ZERO, ZERO if money_in else amount)
    yield _row(journal, label, number, payment.received_on, account.fec_customer_account,
               "Clients", aux, aux_label, piece, payment.received_on, text,
               ZERO if money_in else amount, amount if money_in else ZERO,
               letter, settled_on if letter else None)


def fec_text(account: Account, start: datetime.date, end: datetime.date) -> Iterator[str]:
    """The file, line by line (header first), tab-separated, CRLF-free UTF-8 text."""
    yield "\t".join(COLUMNS) + "\n"
    for row in entries(account, start, end):
        yield "\t".join(row) + "\n"


# -- the VAT summary for the VAT return -------------------------------------------------------
def _month(value: datetime.date) -> str:
    return value.strftime("%Y-%m")


def vat_summary(account: Account, start: datetime.date, end: datetime.date) -> list[dict]:
    """Per month and VAT rate: the base and VAT invoiced (credit notes subtracted), and the VAT
    received on services taxed on receipts (a payment's share of each rate of its invoice: VAT
    on services is due when paid, unless the supplier opted for debits). Sorted by month, rate."""
    rows: dict[tuple, dict] = {}

    def row(month, category, rate):
        key = (month, category, rate)
        return rows.setdefault(key, {"month": month, "category": category, "rate": rate,
                                     "base": ZERO, "vat": ZERO, "vat_received": ZERO})

    invoices = (Invoice.objects.filter(account=account, issue_date__gte=start,
                                       issue_date__lte=end).exclude(number="")
                .exclude(state__in=NOT_ISSUED))
    for chunk in _chunks(invoices, 500):
        lines_of = {}
        for line in InvoiceLine.objects.filter(invoice__in=chunk):
            lines_of.setdefault(line.invoice_id, []).append(line)
        for invoice in chunk:
            sign = invoice.sign
            for part in totals.compute(lines_of.get(invoice.pk, [])).breakdown:
                target = row(_month(invoice.issue_date), part.category, part.rate)
                target["base"] += sign * part.base
                target["vat"] += sign * part.amount
    received = (Payment.objects.filter(account=account, received_on__gte=start,
                                       received_on__lte=end)
                .select_related("invoice").order_by("received_on", "pk"))
    for chunk in _chunks(received, 500):
        invoice_ids = {p.invoice_id for p in chunk}
        lines_of = {}
        for line in InvoiceLine.objects.filter(invoice_id__in=invoice_ids):
            lines_of.setdefault(line.invoice_id, []).append(line)
        for payment in chunk:
            invoice = payment.invoice
            if invoice.operation_category == "goods" or invoice.vat_on_debits or not invoice.total:
                continue  # goods, or the option for debits: VAT due on the invoice, not here
            for part in totals.compute(lines_of.get(invoice.pk, [])).breakdown:
                share = (payment.amount * part.amount / invoice.total).quantize(Decimal("0.01"))
                row(_month(payment.received_on), part.category, part.rate)["vat_received"] += share
    return [rows[key] for key in sorted(rows, key=lambda k: (k[0], k[1], k[2]))]


def vat_summary_csv(account: Account, start: datetime.date, end: datetime.date) -> str:
    """The summary as a spreadsheet opens it in the reader's language (the invoice list's CSV
    conventions: `invoicing.exports`)."""
    import io

    from django.utils.formats import get_format
    from django.utils.translation import gettext as _

    from invoicing.exports import amount_text, spreadsheet_writer

    out = io.StringIO()
    writer = spreadsheet_writer(out)
    writer.writerow([_("Mois"), _("Catégorie"), _("Taux (%)"), _("Base HT facturée"),
                     _("TVA facturée"), _("TVA encaissée (prestations)")])
    for item in vat_summary(account, start, end):
        rate = format(item["rate"], "f").rstrip("0").rstrip(".") or "0"
        writer.writerow([item["month"], item["category"],
                         rate.replace(".", get_format("DECIMAL_SEPARATOR")),
                         amount_text(item["base"]), amount_text(item["vat"]),
                         amount_text(item["vat_received"])])
    return "\ufeff" + out.getvalue()

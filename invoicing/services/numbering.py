"""Invoice numbers as French law asks: one unique, chronological and continuous sequence per
account (CGI art. 242 nonies A: « numéro unique basé sur une séquence chronologique et continue »).

A number is given when an invoice is issued (it leaves the drafts: `invoice_request_send`), in
the transaction that issues it, under a lock on the account's row: two invoices issued at once
never get the same number, and a number is only ever used by an invoice that is issued, never
by a draft that may be abandoned, so the sequence has no hole. Dates follow the numbers: an
invoice is not issued with a date before the last issued one's (nor in the future: the checks). An invoice
keeps its number for good, through a failed deposit and its correction.
"""

from django.db.models import Max
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from core.models import Account
from invoicing.models import Invoice

SEQUENCE_WIDTH = 5


def number_format(account: Account, sequence: int) -> str:
    return f"{account.invoice_number_prefix}{sequence:0{SEQUENCE_WIDTH}d}"


def number_next(*, account: Account) -> str:
    """The number the next invoice issued will get (shown, not reserved)."""
    sequence = account.next_invoice_sequence
    while Invoice.objects.filter(account=account, number=number_format(account, sequence)).exists():
        sequence += 1
    return number_format(account, sequence)


def _number_take(account: Account) -> str:
    """Takes the next number of the locked account's sequence."""
    sequence = account.next_invoice_sequence
    # A number held by an invoice made outside the sequence (before numbers were given at
    # issue) is skipped: never two invoices under one number.
    while Invoice.objects.filter(account=account, number=number_format(account, sequence)).exists():
        sequence += 1
    account.next_invoice_sequence = sequence + 1
    account.save(update_fields=["next_invoice_sequence", "updated_at"])
    return number_format(account, sequence)


def date_problems(invoice: Invoice) -> dict[str, list[str]]:
    """Whether the invoice's date keeps the sequence chronological ({} when it does). Reads the
    last issued invoice's date: call under the account's lock."""
    if invoice.issue_date is None:
        return {}
    last = (Invoice.objects.filter(account_id=invoice.account_id).exclude(number="")
            .exclude(pk=invoice.pk).aggregate(last=Max("issue_date"))["last"])
    if last is not None and invoice.issue_date < last:
        return {"issue_date": [
            _("Les numéros suivent l'ordre des dates : une facture a déjà été émise le "
              "%(date)s ; datez celle-ci de ce jour ou d'après.")
            % {"date": date_format(last, "DATE_FORMAT")}]}
    return {}


def issue_fields(invoice: Invoice) -> tuple[dict, dict[str, list[str]]]:
    """What issuing sets on the invoice (its number, when it was issued) and, if its date would
    break the chronology, the problems instead. Call inside the transaction that issues it:
    the account's row is locked until it commits."""
    if invoice.number:  # issued before (a correction after a failed deposit): kept as it is
        return {}, {}
    # FOR NO KEY UPDATE: one issuer at a time, without blocking the rows that only reference
    # the account (new invoices, its per-state totals).
    account = Account.objects.select_for_update(no_key=True).get(pk=invoice.account_id)
    problems = date_problems(invoice)
    if problems:
        return {}, problems
    return {"number": _number_take(account), "issued_at": timezone.now()}, {}

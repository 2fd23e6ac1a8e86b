"""Payments received on invoices, and the report of a company's payment to B2Brouter.

A payment is recorded under its invoice's row lock, checked against what remains due (invoiced,
less what its issued credit notes credit, less what was received), and never changed nor deleted:
a mistake is reversed by a counter-entry. When a payment settles an invoice whose channel reports
payments (a company's services, VAT on receipts: `invoicing.channels.Company.reports_payment`),
a `PaymentReport` is made once and a worker tells B2Brouter (`mark_as` paid), outside any
transaction, retried under faults, never twice.
"""

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

import b2brouter
from core.enqueue import enqueue_on_commit
from core.gateway import b2brouter_client
from finance.models import Payment, PaymentReport
from invoicing import channels, states
from invoicing.models import Invoice, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import events
from invoicing.services.errors import locked_invoice
from invoicing.services.remote import invoice_apply_remote

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
REPORT_TASK = "finance.payment_report"


class PaymentRefused(Exception):
    """Nothing was recorded; `problems` by form field, each message for the user."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in problems.values() for m in ms))
        self.problems = problems


@dataclass(frozen=True)
class Balance:
    """What an invoice asks to be paid, what its credit notes took off, what was received."""

    invoiced: Decimal
    credited: Decimal
    received: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.invoiced - self.credited - self.received

    @property
    def settled(self) -> bool:
        return self.remaining <= 0 and self.invoiced > 0


def balance(invoice: Invoice) -> Balance:
    """The invoice's balance as kept on it: what its issued credit notes take off (a refused
    one, or one not deposited, takes nothing off) and what was received; the figures the aged
    balance and the dashboard add up."""
    if invoice.kind != Invoice.Kind.INVOICE:
        return Balance(invoiced=invoice.payable_amount, credited=ZERO, received=ZERO)
    return Balance(invoiced=invoice.payable_amount, credited=invoice.credited_amount or ZERO,
                   received=invoice.received_amount or ZERO)


def platform_says_paid(invoice: Invoice) -> bool:
    """The buyer's platform reports the invoice paid: Chorus Pro's "mise en paiement" (`paid`,
    or its status when given), a company's "encaissement signalé" (`allegedly_paid`)."""
    return (invoice.state in (S.PAID, S.ALLEGEDLY_PAID, S.CLOSED)
            or invoice.chorus_status == "MISE_EN_PAIEMENT")


def payment_difference(invoice: Invoice, due: Balance) -> str:
    """What differs between what the platform reports and what was received: "unrecorded"
    (reported paid, something still due here), "unreported" (settled here, not reported by a
    public buyer's platform), or ""."""
    if invoice.kind != Invoice.Kind.INVOICE or not invoice.number:
        return ""
    reported = platform_says_paid(invoice)
    if reported and due.remaining > 0:
        return "unrecorded"
    if due.settled and not reported and channels.of_invoice(invoice).code == channels.CHORUS:
        return "unreported"  # Chorus Pro reports a public buyer's payment: not yet
    return ""


def _money(text) -> Decimal | None:
    try:
        value = Decimal(str(text).strip().replace(" ", "").replace("\u202f", "").replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def cannot_receive(invoice: Invoice, due: Balance) -> str:
    """Why no payment can be recorded on this invoice now, for the user ("" when one can)."""
    if invoice.kind != Invoice.Kind.INVOICE:
        return _("Un avoir ne reçoit pas de paiement : enregistrez le paiement sur la facture.")
    if invoice.state == S.DRAFT or not invoice.number:
        return _("Un brouillon ne reçoit pas de paiement : la facture doit d'abord être émise.")
    if invoice.state in (S.FAILED, S.CANCELLED, S.ANNULLED, S.DISCARDED):
        return _("Cette facture n'a pas été déposée : il n'y a rien à recevoir.")
    if invoice.state in (S.QUEUED, S.SUBMITTING):
        return _("Cette facture est en cours d'envoi : un paiement s'enregistre une fois "
                 "qu'elle est déposée.")
    if due.invoiced - due.credited <= 0:
        return _("Cette facture est entièrement créditée par ses avoirs : il n'y a plus rien à "
                 "recevoir.")
    return ""


def _problems(invoice: Invoice, received_on, amount: Decimal | None, due: Balance) -> dict:
    problems: dict[str, list[str]] = {}

    def add(key, message):
        problems.setdefault(key, []).append(message)

    why_not = cannot_receive(invoice, due)
    if why_not:
        add("__all__", why_not)
    if received_on is None:
        add("received_on", _("La date de réception est obligatoire."))
    elif received_on > timezone.localdate():
        add("received_on", _("La date de réception ne peut pas être dans le futur."))
    if amount is None:
        add("amount", _("Saisissez un montant, par exemple 1 250,00."))
    elif amount <= 0:
        add("amount", _("Le montant reçu est positif."))
    elif amount != amount.quantize(CENT):
        add("amount", _("Au plus deux décimales (des centimes)."))
    elif amount >= Decimal("1e12"):
        add("amount", _("Ce montant est trop grand."))
    elif "__all__" not in problems and amount > due.remaining:
        add("amount", _("Plus que ce qui reste dû (%(remaining)s €) : vérifiez le montant.")
            % {"remaining": formats.number_format(max(due.remaining, ZERO), 2,
                                                  use_l10n=True, force_grouping=True)})
    return problems


def payment_record(*, invoice_id: int, received_on: datetime.date | None, amount,
                   means: str = Payment.Means.TRANSFER, reference: str = "", user=None,
                   request_key: str = "") -> Payment:
    """Records a payment received, all or nothing. Raises PaymentRefused (nothing written).
    The same `request_key` twice (a double click) records one payment: the first."""
    value = _money(amount) if not isinstance(amount, Decimal) else amount
    with transaction.atomic():
        invoice = locked_invoice(Invoice.objects.select_for_update(of=("self",))
                                 .select_related("account", "buyer"), invoice_id)
        if request_key:
            existing = Payment.objects.filter(invoice=invoice, request_key=request_key).first()
            if existing is not None:
                return existing
        due = balance(invoice)
        problems = _problems(invoice, received_on, value, due)
        if problems:
            raise PaymentRefused(problems)
        payment = Payment.objects.create(
            invoice=invoice, account=invoice.account, received_on=received_on, amount=value,
            means=means, reference=reference.strip()[:140], recorded_by=user,
            request_key=request_key)
        _received_refresh(invoice.pk)
        events.user_note_event(invoice=invoice, actor=user, code="payment_recorded",
                               amount=str(value), date=received_on.isoformat(),
                               means=str(Payment.Means(means).label))
        if (due.remaining - value) <= 0 and channels.of_invoice(invoice).reports_payment(invoice):
            _report_later(invoice, received_on)
    return payment


def payments_record_many(*, allocations: list[tuple[int, object]], received_on, total,
                         means: str = Payment.Means.TRANSFER, reference: str = "", user=None,
                         request_key: str = "") -> list[Payment]:
    """One transfer for several invoices: each share recorded as a payment under the same
    date, means and reference, all or none. `total` is the transfer's amount: the shares must
    make it. Raises PaymentRefused keyed `amount-<invoice id>` beside each share, `total`, or
    `__all__` (nothing written). The same `request_key` twice records each share once."""
    shares = [(invoice_id, _money(amount) if not isinstance(amount, Decimal) else amount)
              for invoice_id, amount in allocations]
    problems: dict[str, list[str]] = {}
    for invoice_id, amount in shares:
        if amount is None:
            problems[f"amount-{invoice_id}"] = [_("Saisissez un montant, par exemple "
                                                  "1 250,00.")]
    if not shares:
        problems["__all__"] = [_("Répartissez le virement sur au moins une facture.")]
    elif not problems and total is not None and sum(a for _i, a in shares) != total:
        problems["total"] = [_("Les parts (%(shares)s €) ne font pas le montant du virement.")
                             % {"shares": formats.number_format(sum(a for _i, a in shares), 2,
                                                                use_l10n=True,
                                                                force_grouping=True)}]
    if problems:
        raise PaymentRefused(problems)
    recorded = []
    with transaction.atomic():
        for invoice_id, amount in sorted(shares):  # locks taken in one order: no deadlock
            try:
                recorded.append(payment_record(
                    invoice_id=invoice_id, received_on=received_on, amount=amount, means=means,
                    reference=reference, user=user,
                    request_key=f"{request_key[:40]}:{invoice_id}" if request_key else ""))
            except PaymentRefused as exc:
                for field, texts in exc.problems.items():
                    key = field if field == "received_on" else f"amount-{invoice_id}"
                    problems.setdefault(key, []).extend(t for t in texts
                                                        if t not in problems.get(key, []))
        if problems:
            raise PaymentRefused(problems)  # every share undone with it
    return recorded


def statement_lines_record(*, user, lines: list[str]) -> dict:
    """The lines of a bank statement a person confirmed ("reference|date|invoice id|amount"),
    each recorded once on an invoice the person may see, under a key made of the bank's
    reference and the invoice: a statement confirmed twice records nothing twice. Returns how
    many were recorded, already recorded, and the refusals in words."""
    from finance.statements import payment_key
    from invoicing.selectors import invoice_list

    recorded, already, refused = 0, 0, []
    visible = invoice_list(user=user)
    for value in lines:
        try:
            reference, booked, invoice_id, amount = value.split("|")
            booked_on = datetime.date.fromisoformat(booked)
            invoice = visible.get(pk=int(invoice_id))
        except (ValueError, Invoice.DoesNotExist):
            refused.append(_("Une ligne illisible a été ignorée."))
            continue
        key = payment_key(reference, invoice.pk)
        if Payment.objects.filter(invoice=invoice, request_key=key).exists():
            already += 1
            continue
        try:
            payment_record(invoice_id=invoice.pk, received_on=booked_on, amount=amount,
                           reference=reference, user=user, request_key=key)
            recorded += 1
        except PaymentRefused as exc:
            refused.append(f"{invoice.number} : {exc}")
    return {"recorded": recorded, "already": already, "refused": refused}


def payment_reverse(*, payment_id: int, user=None, note: str = "") -> Payment:
    """A payment recorded by mistake, cancelled by a counter-entry (never deleted). Raises
    PaymentRefused for a reversal, or a payment already reversed."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("invoice").get(pk=payment_id)
        locked_invoice(Invoice.objects.select_for_update(), payment.invoice_id)
        if payment.is_reversal:
            raise PaymentRefused({"__all__": [_("Une contre-passation ne s'annule pas : "
                                                "enregistrez à nouveau le paiement.")]})
        try:
            with transaction.atomic():
                reversal = Payment.objects.create(
                    invoice=payment.invoice, account_id=payment.account_id,
                    received_on=timezone.localdate(), amount=-payment.amount,
                    means=payment.means, reference=payment.reference, reverses=payment,
                    note=note.strip()[:200], recorded_by=user)
        except IntegrityError as exc:
            raise PaymentRefused({"__all__": [_("Ce paiement est déjà annulé.")]}) from exc
        _received_refresh(payment.invoice_id)
        events.user_note_event(invoice=payment.invoice, actor=user, code="payment_reversed",
                               amount=str(payment.amount),
                               date=payment.received_on.isoformat())
    return reversal


def _received_refresh(invoice_id: int) -> None:
    """Writes on the invoice what was received on it (its payments, counter-entries included)
    and the date of its last payment (a reversed one aside), under its lock: what is left to pay is then read without adding them up (the aged balance,
    the dashboard)."""
    payments = Payment.objects.filter(invoice_id=invoice_id)
    received = payments.aggregate(sum=Sum("amount"))["sum"]
    last = (payments.filter(reverses__isnull=True, reversed_by__isnull=True)
            .aggregate(last=Max("received_on"))["last"])
    Invoice.objects.filter(pk=invoice_id).update(received_amount=received or ZERO,
                                                 last_paid_on=last)


# -- the report to B2Brouter -------------------------------------------------------------------
def _report_later(invoice: Invoice, paid_on: datetime.date) -> None:
    report, created = PaymentReport.objects.get_or_create(invoice=invoice,
                                                          defaults={"paid_on": paid_on})
    if created or report.status == PaymentReport.Status.PENDING:
        enqueue_on_commit(REPORT_TASK, invoice.pk)


class NotDepositedYet(b2brouter.TransientError):
    """The invoice is not at B2Brouter yet (or not deposited): the report waits."""


PAID_AT_B2BROUTER = frozenset({S.PAID, S.CLOSED})


def payment_report(*, invoice_id: int) -> str:
    """Tells B2Brouter that the invoice was paid, once. Outside any transaction. Returns the
    outcome (done, refused, nothing); raises b2brouter.TransientError to be retried."""
    report = PaymentReport.objects.select_related("invoice").filter(invoice_id=invoice_id).first()
    if report is None or report.status != PaymentReport.Status.PENDING:
        return "nothing"
    invoice = report.invoice
    if not invoice.remote_id or invoice.state not in states.DEPOSITED_STATES:
        raise NotDepositedYet(f"invoice {invoice.number} not deposited yet")
    PaymentReport.objects.filter(pk=report.pk).update(attempts=report.attempts + 1,
                                                      tried_at=timezone.now())
    client = b2brouter_client()
    try:
        current = client.get_invoice(invoice.remote_id)
        if current.get("id") == invoice.remote_id and current.get("state") in PAID_AT_B2BROUTER:
            answer = current  # an earlier attempt's answer was lost: already told
        else:
            answer = client.mark_invoice(invoice.remote_id, "paid", paid_date=report.paid_on)
            answer = answer or client.get_invoice(invoice.remote_id)
    except b2brouter.RejectedError as exc:
        PaymentReport.objects.filter(pk=report.pk).update(
            status=PaymentReport.Status.REFUSED, answer=str(exc.message)[:2000])
        InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE,
                                    source=InvoiceEvent.Source.WORKER,
                                    code="payment_report_refused",
                                    params={"error": str(exc.message)[:500]})
        return "refused"
    if answer.get("id") not in (None, invoice.remote_id):
        raise b2brouter.ResponseLost("mark_as answered for another invoice")
    PaymentReport.objects.filter(pk=report.pk).update(
        status=PaymentReport.Status.DONE, done_at=timezone.now(),
        answer=str(answer.get("state") or "")[:2000])
    InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE,
                                source=InvoiceEvent.Source.WORKER, code="payment_reported",
                                params={"date": report.paid_on.isoformat()})
    if answer.get("state"):
        invoice_apply_remote(remote={**answer, "id": invoice.remote_id},
                             source=InvoiceEvent.Source.WORKER)
    return "done"


def payment_reports_resume() -> int:
    """Hands again to a worker the reports still pending whose invoice is now deposited and
    that no worker took for a while: their task gave up waiting for the deposit (its retries
    run out in about an hour) or was lost with a worker. At most `HOUSEKEEPING_BATCH` per run,
    the oldest first; each then left alone for `HOUSEKEEPING_RETRY_AFTER`. Returns how many."""
    from django.conf import settings
    from django.db.models import Q

    from core.enqueue import enqueue

    quiet_since = timezone.now() - datetime.timedelta(seconds=settings.HOUSEKEEPING_RETRY_AFTER)
    waiting = list(PaymentReport.objects.filter(
        Q(tried_at__isnull=True) | Q(tried_at__lt=quiet_since),
        status=PaymentReport.Status.PENDING, created_at__lt=quiet_since,
        invoice__remote_id__isnull=False, invoice__state__in=states.DEPOSITED_STATES)
        .order_by("created_at", "pk").values_list("pk", "invoice_id")[
            :settings.HOUSEKEEPING_BATCH])
    if not waiting:
        return 0
    PaymentReport.objects.filter(pk__in=[pk for pk, _i in waiting]).update(
        tried_at=timezone.now())
    for _pk, invoice_id in waiting:
        enqueue(REPORT_TASK, invoice_id)
    return len(waiting)

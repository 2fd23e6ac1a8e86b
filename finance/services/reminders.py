"""Reminders of late payment: a message from an editable template in French or English, with
the invoice's number, amounts, due date, the legal late-payment interest and the 40 € indemnity
computed for that invoice, and its PDF; sent once per form (a double click sends nothing more),
never to a buyer without an address; each recorded, as sent, in the invoice's history."""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from finance.models import Reminder
from finance.services.payments import PaymentRefused, balance
from invoicing import channels
from invoicing.models import Invoice
from invoicing.services import events
from invoicing.services.errors import locked_invoice

INDEMNITY = Decimal("40.00")
CENT = Decimal("0.01")


def interest_rate(invoice: Invoice) -> Decimal:
    """The legal late-payment rate (%): the ECB rate + 10 points between companies (Code de
    commerce L441-10), + 8 points for a public buyer (Code de la commande publique R2192-31)."""
    ecb = Decimal(str(settings.ECB_MAIN_RATE))
    return ecb + (Decimal(10) if channels.of_invoice(invoice).code == channels.COMPANY
                  else Decimal(8))


@dataclass(frozen=True)
class Draft:
    to: str
    subject: str
    body: str
    rank: int
    days_late: int
    remaining: Decimal
    interest: Decimal


def _money(value: Decimal) -> str:
    return formats.number_format(value, 2, use_l10n=True, force_grouping=True) + " €"


def reminder_draft(invoice: Invoice, *, language: str = "fr", today=None) -> Draft:
    """The message a reminder would send now, in `language`. Raises PaymentRefused when there
    is nothing to remind (not late, nothing due)."""
    today = today or timezone.localdate()
    due = balance(invoice)
    if invoice.kind != Invoice.Kind.INVOICE or not invoice.number or due.remaining <= 0:
        raise PaymentRefused({"__all__": [_("Rien n'est dû sur cette facture : pas de relance.")]})
    if not invoice.due_date or invoice.due_date >= today:
        raise PaymentRefused({"__all__": [_("Cette facture n'est pas encore échue : pas de "
                                            "relance avant le lendemain de son échéance.")]})
    days = (today - invoice.due_date).days
    rate = interest_rate(invoice)
    interest = (due.remaining * rate / 100 * days / 365).quantize(CENT, ROUND_HALF_UP)
    rank = invoice.reminders.count() + 1
    with translation.override(language):
        subject = (_("Relance : facture %(number)s impayée") if rank == 1 else
                   _("Relance n° %(rank)s : facture %(number)s impayée")) % {
            "rank": rank, "number": invoice.number}
        lines = [
            _("Bonjour,"), "",
            (_("Sauf erreur de notre part, la facture %(number)s du %(date)s, échue le %(due)s, "
               "reste impayée : %(remaining)s restent dus (sur %(total)s).")
             % {"number": invoice.number,
                "date": formats.date_format(invoice.issue_date, "DATE_FORMAT"),
                "due": formats.date_format(invoice.due_date, "DATE_FORMAT"),
                "remaining": _money(due.remaining), "total": _money(due.invoiced)}),
        ]
        if rank > 1:
            lines += ["", _("C'est notre relance n° %(rank)s pour cette facture.")
                      % {"rank": rank}]
        lines += [
            "",
            (_("Des pénalités de retard sont dues au taux de %(rate)s %% l'an, soit %(interest)s "
               "pour %(days)s jours de retard, ainsi que l'indemnité forfaitaire pour frais de "
               "recouvrement de %(indemnity)s.")
             % {"rate": formats.number_format(rate, 2, use_l10n=True),
                "interest": _money(interest), "days": days, "indemnity": _money(INDEMNITY)}),
            "", _("Merci de procéder au règlement, ou de nous dire s'il a déjà été fait."),
            "", _("Cordialement,"), invoice.account.name,
        ]
    return Draft(to=invoice.buyer.billing_email if invoice.buyer_id else "", subject=subject,
                 body="\n".join(lines), rank=rank, days_late=days, remaining=due.remaining,
                 interest=interest)


def reminder_send(*, invoice_id: int, subject: str, body: str, language: str = "fr",
                  user=None, request_key: str = "") -> Reminder:
    """Sends the reminder (as edited) with the invoice's PDF, and records it. Raises
    PaymentRefused (nothing sent) when the buyer has no address or nothing is late. The same
    `request_key` twice sends once."""
    with transaction.atomic():
        invoice = locked_invoice(Invoice.objects.select_for_update(of=("self",))
                                 .select_related("buyer", "account"), invoice_id)
        if request_key:
            sent = invoice.reminders.filter(request_key=request_key).first()
            if sent is not None:
                return sent
        draft = reminder_draft(invoice, language=language)
        if not draft.to:
            raise PaymentRefused({"__all__": [_(
                "Cet acheteur n'a pas d'e-mail de facturation : renseignez-le sur sa fiche "
                "(Administration → Acheteurs), puis relancez.")]})
        if not subject.strip() or not body.strip():
            raise PaymentRefused({"subject" if not subject.strip() else "body": [
                _("Ce champ est obligatoire.")]})
        try:
            reminder = Reminder.objects.create(
                invoice=invoice, rank=draft.rank, to=draft.to, language=language,
                subject=subject.strip()[:200], body=body, interest=draft.interest,
                request_key=request_key, sent_by=user)
        except IntegrityError as exc:
            raise PaymentRefused({"__all__": [_("Une autre relance vient de partir : "
                                                "rechargez la page.")]}) from exc
        message = EmailMessage(subject=reminder.subject, body=body, to=[draft.to],
                               from_email=settings.DEFAULT_FROM_EMAIL)
        pdf = invoice.pdfs.order_by("-submission_round").first()
        if pdf is not None:
            message.attach(f"{invoice.number}.pdf", bytes(pdf.content), "application/pdf")
        events.user_note_event(invoice=invoice, actor=user, code="reminder_sent",
                               rank=draft.rank, to=draft.to)
        # Sent last, inside the transaction: a mail server that refuses undoes the record.
        message.send(fail_silently=False)
    return reminder


def overdue_today(invoice: Invoice, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return bool(invoice.due_date and invoice.due_date < today and invoice.number
                and invoice.kind == Invoice.Kind.INVOICE and balance(invoice).remaining > 0)

"""E-mails to staff when Chorus Pro (or B2Brouter) turns an invoice down."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation

from core import roles
from core.templatetags.amounts import money
from invoicing import states
from invoicing.models import Invoice, chorus_status_label
from invoicing.models import InvoiceState as S


def invoice_notify_rejection(*, invoice_id: int) -> int:
    """E-mails the invoice's author and its account's staff that Chorus Pro (or B2Brouter) turned
    the invoice down, with the reason and what to do. Returns the number of messages sent."""
    invoice = Invoice.objects.select_related("buyer", "created_by").get(pk=invoice_id)
    users = get_user_model().objects.filter(accounts=invoice.account_id, is_active=True,
                                            groups__name__in=[roles.STAFF, roles.ADMINS])
    recipients = sorted({u.email for u in users if u.email}
                        | ({invoice.created_by.email} if invoice.created_by and invoice.created_by.email
                           else set()))
    if not recipients:
        return 0
    kind = invoice.refusal_kind
    credit = invoice.kind == Invoice.Kind.CREDIT_NOTE
    e = "" if credit else "e"  # "un avoir", "une facture": the participles agree
    noun, it = ("L'avoir", "le") if credit else ("La facture", "la")
    if invoice.state == S.ERROR:
        what, fix = f"n'a pas pu être déposé{e}", f"Corrigez-{it} et renvoyez-{it} sous le même numéro."
    elif kind == states.ROUTING:
        what, fix = (f"a été retourné{e} (à recycler)", "Corrigez le code service ou le n° "
                     f"d'engagement et renvoyez-{it} sous le même numéro.")
    elif kind == states.SUSPENSION:
        what, fix = f"a été suspendu{e}", "Complétez les pièces justificatives sur le portail Chorus Pro."
    elif kind == states.REJECTION:
        what, fix = f"a été rejeté{e}", (
            "Émettez un nouvel avoir, corrigé." if credit
            else "Émettez un avoir puis une nouvelle facture sous un nouveau numéro.")
    else:
        what, fix = f"a été refusé{e}", (
            "Lisez le motif : s'il porte sur le routage (code service, n° d'engagement), "
            f"corrigez-{it} et renvoyez-{it} sous le même numéro ; sinon "
            + ("émettez un nouvel avoir." if credit
               else "émettez un avoir puis une nouvelle facture."))
    subject = f"{'Avoir' if credit else 'Facture'} {invoice.number} {what} par Chorus Pro"
    status = (chorus_status_label(invoice.chorus_status) if invoice.chorus_status
              else invoice.get_state_display())
    link = settings.SITE_URL.rstrip("/") + reverse("invoicing:detail", args=[invoice.pk])
    with translation.override("fr"):
        amount = money(invoice.total, invoice.currency)
    body = (
        f"{noun} {invoice.number} à {invoice.buyer.name if invoice.buyer_id else '?'} "
        f"({amount} TTC) {what}.\n"
        f"Statut : {status}\n"
        f"Motif : {invoice.chorus_status_reason or invoice.last_error or 'non précisé'}\n\n{fix}\n\n"
        f"Ouvrir {'l’avoir' if credit else 'la facture'} : {link}\n"
    )
    return send_mail(subject, body, None, recipients)

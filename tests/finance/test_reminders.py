"""Reminders: only for a late invoice with something due, to the buyer's billing address, with
the legal interest and the 40 € indemnity computed for that invoice and its PDF attached; a
second says it is the second; the same form twice sends once; nothing to a buyer without an
address."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from finance.models import Reminder
from finance.services import payments, reminders
from invoicing.models import InvoicePdf
from invoicing.models import InvoiceState as S
from tests.factories import BuyerFactory, InvoiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = datetime.date.today()


@pytest.fixture
def late(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ECB_MAIN_RATE = "2.15"
    buyer = BuyerFactory(billing_email="factures@univ-amu.fr")
    invoice = InvoiceFactory(account=buyer.account, buyer=buyer, number="F-LATE-1",
                             issue_date=TODAY - datetime.timedelta(days=60),
                             due_date=TODAY - datetime.timedelta(days=30))
    set_state(invoice, S.SENT)
    InvoicePdf.objects.create(invoice=invoice, account=invoice.account, submission_round=1,
                              content=b"%PDF-1.4 late", sha256="b" * 64, size=13)
    return invoice


def test_the_draft_computes_the_legal_interest(late):
    draft = reminders.reminder_draft(late)
    # 3 712,50 x (2,15 + 8) % x 30 / 365 (a public buyer: ECB + 8 points)
    assert draft.interest == (D("3712.50") * D("10.15") / 100 * 30 / 365).quantize(D("0.01"))
    assert draft.rank == 1 and draft.to == "factures@univ-amu.fr"
    assert "F-LATE-1" in draft.subject and "40,00" in draft.body.replace("\u202f", " ")
    english = reminders.reminder_draft(late, language="en")
    assert "Invoice" in english.body or "invoice" in english.body


def test_sent_once_per_form_with_the_pdf_and_the_second_says_so(late):
    first = reminders.reminder_send(invoice_id=late.pk, subject="Relance", body="Merci",
                                    request_key="a" * 32)
    again = reminders.reminder_send(invoice_id=late.pk, subject="Relance", body="Merci",
                                    request_key="a" * 32)
    assert first.pk == again.pk and len(mail.outbox) == 1
    assert mail.outbox[0].to == ["factures@univ-amu.fr"]
    assert mail.outbox[0].attachments[0][0] == "F-LATE-1.pdf"
    second = reminders.reminder_draft(late)
    assert second.rank == 2 and "n° 2" in second.subject and "n° 2" in second.body
    assert late.events.filter(code="reminder_sent").count() == 1


def test_nothing_to_a_buyer_without_an_address_nor_for_an_invoice_not_late(late):
    late.buyer.billing_email = ""
    late.buyer.save()
    with pytest.raises(payments.PaymentRefused) as refused:
        reminders.reminder_send(invoice_id=late.pk, subject="x", body="y")
    assert "e-mail de facturation" in str(refused.value)
    on_time = set_state(InvoiceFactory(account=late.account, buyer=late.buyer, number="F-OK-1",
                                       issue_date=TODAY, due_date=TODAY), S.SENT)
    with pytest.raises(payments.PaymentRefused):
        reminders.reminder_draft(on_time)
    payments.payment_record(invoice_id=late.pk, received_on=TODAY, amount=D("3712.50"))
    late.refresh_from_db()
    with pytest.raises(payments.PaymentRefused):
        reminders.reminder_draft(late)
    assert not mail.outbox and not Reminder.objects.exists()


def test_the_page_sends_the_edited_message(late, client):
    client.force_login(user_in("staff", late.account, username="camille"))
    url = reverse("finance:invoice_reminder", args=[late.pk])
    page = client.get(url)
    assert page.status_code == 200
    key = page.context["form"].initial["request_key"]
    response = client.post(url, {"language": "fr", "subject": "Relance F-LATE-1",
                                 "body": "Texte revu.", "request_key": key})
    assert response.status_code == 302 and len(mail.outbox) == 1
    assert mail.outbox[0].body == "Texte revu."
    assert client.get(reverse("finance:invoice_payments", args=[late.pk])).status_code == 200

"""Rejections are e-mailed to staff."""


import pytest

from invoicing.models import Invoice, InvoiceState
from invoicing.services import legal, notify, remote, submission
from tests.conftest import wait_for
from tests.factories import InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived(registered_account):
    invoice = InvoiceFactory(account=registered_account)
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == InvoiceState.SENT)
    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    return invoice, document


def test_rejection_sends_an_email(registered_account, mailoutbox):
    author = UserFactory(email="author@example.fr")
    invoice = InvoiceFactory(account=registered_account, created_by=author)
    Invoice.objects.filter(pk=invoice.pk).update(state="refused", chorus_status="A_RECYCLER",
                                                 chorus_status_reason="Service inconnu")
    assert notify.invoice_notify_rejection(invoice_id=invoice.pk) == 1
    [mail] = mailoutbox
    assert invoice.number in mail.subject and mail.to == ["author@example.fr"]
    assert "Service inconnu" in mail.body and "même numéro" in mail.body


def test_the_email_links_to_the_invoice_and_writes_its_amount_in_french(registered_account,
                                                                       mailoutbox, settings):
    settings.SITE_URL = "https://factures.example.fr/"
    author = UserFactory(email="author@example.fr")
    invoice = InvoiceFactory(account=registered_account, created_by=author)
    Invoice.objects.filter(pk=invoice.pk).update(state="refused", chorus_status="A_RECYCLER",
                                                 chorus_status_reason="Service inconnu")
    notify.invoice_notify_rejection(invoice_id=invoice.pk)
    [mail] = mailoutbox
    assert f"https://factures.example.fr/invoices/{invoice.pk}/" in mail.body
    assert "3\u00a0712,50\u00a0€" in mail.body and "3712.50" not in mail.body
    assert "retournée pour correction du routage" in mail.body and "A_RECYCLER" not in mail.body

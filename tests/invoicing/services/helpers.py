"""What the services' tests do over and over: queue an invoice, send it, read the sandbox."""

from invoicing.models import InvoiceState as S
from invoicing.services import remote, submission
from tests.conftest import wait_for


def remote_invoices(sandbox, account, number):
    return sandbox.control("GET", f"/accounts/{account.remote_id}/invoices?number={number}")["invoices"]


def queue(invoice):
    return submission.invoice_request_send(invoice_id=invoice.pk)


def sent(invoice):
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    invoice.refresh_from_db()
    return invoice

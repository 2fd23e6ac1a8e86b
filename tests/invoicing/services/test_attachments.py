"""Supporting documents go with the invoice, exactly once, and every invoice gets its PDF.

With attachments, the invoice is created without sending, each document is joined, then it is
sent; a lost answer at any step is settled by reading what B2Brouter holds (the invoice by
number, its attachments) before acting again. Without, the one-call path stays.
"""

import base64
import hashlib
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from lxml import etree

import b2brouter
from invoicing.models import InvoicePdf
from invoicing.models import InvoiceState as S
from invoicing.services import crediting, drafts, legal, remote, submission
from invoicing.services.errors import PdfNotReady
from tests.conftest import sandbox_bytes, wait_for
from tests.factories import InvoiceFactory
from tests.invoicing.services.helpers import queue, remote_invoices, sent
from tests.support.en16931 import fatal_rules, xsd_errors

pytestmark = pytest.mark.django_db

NS = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
ORDER = b"%PDF-1.4\n% bon de commande\n%%EOF\n"
TIMESHEET = b"jour;heures\nlundi;7,5\n"
CREATE = "POST /accounts/{id}/invoices"
UPLOAD = "POST /invoices/{id}/add_attachment"
SEND = "POST /invoices/send_invoice/{id}"


def join(invoice, name, content, **options):
    return drafts.attachment_add(invoice=invoice, upload=SimpleUploadedFile(name, content),
                                 **options)


@pytest.fixture
def counts(b2b):
    b2b.control("DELETE", "/_sandbox/stats")

    def read(route):
        return b2b.control("GET", "/_sandbox/stats")["requests"].get(route, 0)

    return read


def embedded(xml: bytes) -> list[tuple[str, bytes]]:
    objects = etree.fromstring(xml).findall(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
    return [(o.get("filename"), base64.b64decode(o.text)) for o in objects]


@pytest.fixture(autouse=True)
def short_settle(settings):
    """An upload whose answer was lost is not repeated before it could have landed: short here."""
    settings.ATTACHMENT_SETTLE_AFTER = 0.3


def _settled(invoice, b2b):
    """Submits until B2Brouter has it (each transient failure is retried, as the task does)."""
    for _ in range(12):
        try:
            queue(invoice)
            submission.invoice_submit(invoice_id=invoice.pk, stale_after=0)
            break
        except submission.UploadUnsettled:
            time.sleep(0.2)
        except b2brouter.TransientError:
            continue
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    invoice.refresh_from_db()
    return invoice


def test_two_attachments_go_with_the_invoice_into_its_legal_xml(invoice, b2b, counts):
    join(invoice, "bon de commande.pdf", ORDER)
    join(invoice, "relevé.csv", TIMESHEET)
    invoice = _settled(invoice, b2b)
    assert (counts(CREATE), counts(UPLOAD), counts(SEND)) == (1, 2, 1)
    assert all(a.uploaded_at and a.remote_invoice_id == invoice.remote_id
               for a in invoice.attachments.all())
    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    xml = bytes(document.content)
    assert embedded(xml) == [("bon de commande.pdf", ORDER), ("relevé.csv", TIMESHEET)]
    assert xsd_errors(xml) == [] and fatal_rules(xml) == []


def test_without_attachments_one_call_creates_and_sends(invoice, b2b, counts):
    sent(invoice)
    assert (counts(CREATE), counts(UPLOAD), counts(SEND)) == (1, 0, 0)


@pytest.mark.parametrize("kind, path", [
    ("lost_response", "/accounts/*/invoices"),  # created, the answer lost
    ("lost_response", "/invoices/*/add_attachment"),  # joined, the answer lost
    ("lost_response", "/invoices/send_invoice/*"),  # sent, the answer lost
    ("error_5xx", "/invoices/*/add_attachment"),
    ("slow", "/invoices/send_invoice/*"),
])
def test_a_lost_answer_at_any_step_leaves_each_document_joined_once(
        invoice, b2b, counts, settings, kind, path):
    settings.B2BROUTER_TIMEOUT = 1.0
    b2b.control("POST", "/_sandbox/faults", {"slow_ms": 2500, "queue": [
        {"kind": kind, "method": "POST", "path": path}]})
    join(invoice, "bon de commande.pdf", ORDER)
    join(invoice, "relevé.csv", TIMESHEET)
    invoice = _settled(invoice, b2b)
    found = remote_invoices(b2b, invoice.account, invoice.number)
    assert [r["id"] for r in found] == [invoice.remote_id]  # one invoice at B2Brouter
    held = b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["attachments"]
    assert sorted(a["link"].rsplit("/", 1)[-1] for a in held) == [
        "bon%20de%20commande.pdf", "relev%C3%A9.csv"]
    xml = bytes(legal.invoice_fetch_legal(invoice_id=invoice.pk).content)
    assert sorted(name for name, _ in embedded(xml)) == ["bon de commande.pdf", "relevé.csv"]


def test_an_upload_that_lands_after_its_timeout_is_not_joined_again(invoice, b2b, counts,
                                                                    settings):
    """The answer to an upload is given up on, but B2Brouter stores the file later: the next
    attempt, made before it could have landed, joins nothing; once it could have, it finds the
    file held and only sends."""
    settings.B2BROUTER_TIMEOUT = 1.0
    settings.ATTACHMENT_SETTLE_AFTER = 3.0
    b2b.control("POST", "/_sandbox/faults", {"slow_ms": 2000, "queue": [
        {"kind": "slow", "method": "POST", "path": "/invoices/*/add_attachment"}]})
    join(invoice, "bon de commande.pdf", ORDER)
    join(invoice, "relevé.csv", TIMESHEET)
    queue(invoice)
    with pytest.raises(b2brouter.Timeout):
        submission.invoice_submit(invoice_id=invoice.pk, stale_after=0)
    queue(invoice)
    with pytest.raises(submission.UploadUnsettled):
        submission.invoice_submit(invoice_id=invoice.pk, stale_after=0)
    assert counts(UPLOAD) == 1
    time.sleep(3.2)
    invoice = _settled(invoice, b2b)
    held = b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["attachments"]
    assert sorted(a["link"].rsplit("/", 1)[-1] for a in held) == [
        "bon%20de%20commande.pdf", "relev%C3%A9.csv"]
    assert counts(UPLOAD) == 2
    from invoicing.history import event_text

    history = [event_text(event) for event in invoice.events.all()]
    assert any("déjà chez B2Brouter : bon de commande.pdf" in m for m in history)


@pytest.mark.parametrize("lost", [1, 2, 3])
def test_links_that_show_no_name_are_counted_and_nothing_is_joined_twice(invoice, b2b, counts, lost):
    """A B2Brouter whose links end with an id: the answer to the `lost`-th upload is lost, and
    the next attempt counts what B2Brouter holds instead of reading names."""
    b2b.control("POST", "/_sandbox/faults", {"opaque_links": True, "queue": [
        {"kind": "lost_response", "method": "POST", "path": "/invoices/*/add_attachment",
         "after": lost - 1}]})
    for n in range(3):
        join(invoice, f"piece-{n + 1}.pdf", ORDER + bytes([n]))
    invoice = _settled(invoice, b2b)
    held = b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["attachments"]
    assert len(held) == 3 and counts(UPLOAD) == 3
    xml = bytes(legal.invoice_fetch_legal(invoice_id=invoice.pk).content)
    assert sorted(content for _, content in embedded(xml)) == [ORDER + bytes([n]) for n in range(3)]


def test_a_failed_deposit_created_again_takes_its_documents_again(registered_account, b2b,
                                                                  counts):
    from invoicing.models import Invoice

    # Chorus Pro wants a PO for this buyer, our copy of its rules does not know: deposit fails
    invoice = InvoiceFactory(account=registered_account, po_number="",
                             buyer__engagement_required=False, service__engagement_required=False)
    join(invoice, "bon de commande.pdf", ORDER)
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.ERROR)
    Invoice.objects.filter(pk=invoice.pk).update(po_number="0123456")
    invoice = _settled(invoice, b2b)
    assert counts(UPLOAD) == 2 and counts("DELETE /invoices/{id}") == 1
    xml = bytes(legal.invoice_fetch_legal(invoice_id=invoice.pk).content)
    assert embedded(xml) == [("bon de commande.pdf", ORDER)]


def test_the_suppliers_own_pdf_is_the_invoices_pdf(invoice, b2b):
    join(invoice, "facture.pdf", ORDER, use_as_pdf_view=True)
    invoice = _settled(invoice, b2b)
    pdf = wait_for(lambda: _pdf_or_none(invoice), timeout=10)
    assert bytes(pdf.content) == ORDER


def _pdf_or_none(invoice):
    try:
        return legal.invoice_fetch_pdf(invoice_id=invoice.pk)
    except PdfNotReady:
        return None


def test_the_pdf_is_fetched_once_ready_and_kept_like_the_legal_xml(invoice, b2b):
    invoice = sent(invoice)
    b2b.control("POST", "/_sandbox/faults", {"queue": [{"kind": "pdf_missing"}]})
    with pytest.raises(PdfNotReady):  # not made yet: the task tries again later
        legal.invoice_fetch_pdf(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.pdf_attempted_at is not None and not invoice.pdfs.exists()
    pdf = wait_for(lambda: _pdf_or_none(invoice), timeout=10)
    content = bytes(pdf.content)
    assert content.startswith(b"%PDF-") and pdf.sha256 == hashlib.sha256(content).hexdigest()
    assert content == sandbox_bytes(b2b, f"/invoices/{invoice.remote_id}/as/pdf.invoice")
    assert legal.invoice_fetch_pdf(invoice_id=invoice.pk).pk == pdf.pk  # once
    pdf.content = b"%PDF-forged"
    with pytest.raises(ValueError):
        pdf.save()
    with pytest.raises(ValueError):
        pdf.delete()


def test_the_database_refuses_to_change_an_archived_pdf(invoice, b2b):
    from django.db import DatabaseError, transaction

    invoice = sent(invoice)
    pdf = wait_for(lambda: _pdf_or_none(invoice), timeout=10)
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoicePdf.objects.filter(pk=pdf.pk).update(sha256="0" * 64)


def test_an_answer_that_is_not_a_pdf_is_not_kept(invoice, b2b):
    from unittest import mock

    from core.gateway import b2brouter_client

    invoice = sent(invoice)
    answer = b2brouter.Download(b"<html>Sign in</html>", "text/html")
    with mock.patch.object(b2brouter_client(), "download_pdf", return_value=answer):
        assert legal.invoice_fetch_pdf(invoice_id=invoice.pk) is None
    assert not invoice.pdfs.exists()


def test_a_deposit_enqueues_the_pdf_and_the_reconciler_asks_again(invoice, b2b, enqueued):
    import datetime

    from invoicing.models import Invoice

    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    assert enqueued["invoicing.invoice_fetch_pdf"].call_count == 0  # on commit, in the test
    Invoice.objects.filter(pk=invoice.pk).update(
        pdf_attempted_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    counts = remote.reconcile(stale_after=60)
    assert counts["pdf"] == 1
    enqueued["invoicing.invoice_fetch_pdf"].assert_called_once_with(invoice.pk)


def test_credit_notes_take_attachments_the_same_way(registered_account, b2b, counts):
    original = sent(InvoiceFactory(account=registered_account))
    credit = crediting.credit_note_create(invoice_id=original.pk)
    join(credit, "procès-verbal.pdf", ORDER)
    credit = _settled(credit, b2b)
    xml = bytes(legal.invoice_fetch_legal(invoice_id=credit.pk).content)
    assert etree.QName(etree.fromstring(xml)).localname == "CreditNote"
    assert embedded(xml) == [("procès-verbal.pdf", ORDER)]
    assert xsd_errors(xml) == [] and fatal_rules(xml) == []

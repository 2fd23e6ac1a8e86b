"""The legal XML: stored exactly, checked against the invoice, never changed, acknowledged after."""

import datetime
import hashlib

import pytest
from django.db import DatabaseError, transaction

from invoicing.models import InvoiceState, LegalDocument
from invoicing.services import legal, remote, submission
from tests.conftest import sandbox_bytes, wait_for
from tests.factories import InvoiceFactory
from tests.invoicing.services.helpers import sent

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


def fake_document(invoice, content=b"<Invoice/>", sha256=None, submission_round=1):
    return LegalDocument.objects.create(
        invoice=invoice, submission_round=submission_round, content=content,
        sha256=sha256 or hashlib.sha256(content).hexdigest(), size=len(content),
        content_type="application/xml", source_url="/attachments/download/1/x.xml")


def test_legal_xml_is_stored_exactly_then_acknowledged(invoice, b2b):
    invoice = sent(invoice)
    assert not legal.invoice_acknowledge(invoice_id=invoice.pk)  # nothing stored: no ack
    assert b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["ack_at"] is None

    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    content = bytes(document.content)
    assert content == sandbox_bytes(b2b, invoice.download_legal_url)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert legal.invoice_fetch_legal(invoice_id=invoice.pk).pk == document.pk  # once

    assert legal.invoice_acknowledge(invoice_id=invoice.pk)
    document.refresh_from_db()
    assert document.acknowledged_at is not None
    assert b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["ack_at"]


def test_legal_document_cannot_be_changed_or_deleted(invoice, b2b):
    document = legal.invoice_fetch_legal(invoice_id=sent(invoice).pk)
    document.content = b"<forged/>"
    with pytest.raises(ValueError):
        document.save()
    with pytest.raises(ValueError):
        document.delete()
    assert LegalDocument.objects.get(pk=document.pk).sha256 == hashlib.sha256(
        sandbox_bytes(b2b, invoice.download_legal_url)).hexdigest()


def test_stored_xml_agrees_with_the_invoice(archived):
    invoice, document = archived
    assert invoice.legal_xml_checked_at is not None
    assert invoice.legal_xml_discrepancies == []
    facts = legal.legal_xml_facts(bytes(document.content))
    assert facts["number"] == invoice.number
    assert facts["buyer_siret"] == "13001533200013"
    assert facts["service_code"] == "ESR_MISSION_FACTURES_DEPLACEMENTS"
    assert facts["po_number"] == "0123456"
    assert str(facts["total"]) == "3712.50"


def test_a_difference_between_xml_and_invoice_is_flagged(archived):
    import hashlib

    invoice, document = archived
    # A legal XML that says something else than the invoice (the invoice itself never changes).
    altered = bytes(document.content).replace(b"0123456", b"9999999").replace(
        b"3712.50</cbc:TaxInclusiveAmount>", b"3712.51</cbc:TaxInclusiveAmount>")
    assert altered != bytes(document.content)
    other = LegalDocument.objects.create(
        invoice=invoice, submission_round=2, content=altered, size=len(altered),
        sha256=hashlib.sha256(altered).hexdigest(), content_type="application/xml",
        source_url="/attachments/download/2/x.xml")
    problems = legal.invoice_check_legal_xml(document=other)
    assert any("engagement" in p for p in problems)
    assert any("total TTC" in p for p in problems)
    invoice.refresh_from_db()
    assert invoice.legal_xml_discrepancies == problems
    assert invoice.events.filter(code="legal_xml_differs").exists()


def test_the_database_refuses_to_alter_an_archived_xml(archived):
    _invoice, document = archived
    with pytest.raises(DatabaseError), transaction.atomic():
        LegalDocument.objects.filter(pk=document.pk).update(content=b"<forged/>")
    with pytest.raises(DatabaseError), transaction.atomic():
        LegalDocument.objects.filter(pk=document.pk).update(sha256="0" * 64)
    assert bytes(LegalDocument.objects.get(pk=document.pk).content) == bytes(document.content)


def test_acknowledgement_time_is_set_once(archived):
    invoice, document = archived
    assert legal.invoice_acknowledge(invoice_id=invoice.pk)
    with pytest.raises(DatabaseError), transaction.atomic():
        LegalDocument.objects.filter(pk=document.pk).update(acknowledged_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))

"""The whole path, through the code production runs: an invoice goes from our database to
B2Brouter (the sandbox, over HTTP) through a real Celery worker, and its state, legal XML and
acknowledgement come back."""

import hashlib
import os

import pytest

from invoicing.models import InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import submission
from invoicing.states import REMOTE_RANK
from invoicing.tasks import sync_states_task
from tests.conftest import WorkerProcess, sandbox_bytes, wait_for
from tests.factories import InvoiceFactory
from tests.support.sandbox import SandboxProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def advancing_sandbox(tmp_path, settings):
    """A sandbox that moves sent invoices on by itself, to their final state, none refused."""
    server = SandboxProcess(
        data_dir=tmp_path,
        api_key=os.environ["B2BROUTER_API_KEY"],
        send_delay=0.1, advance_after=0.3, refuse_share=0, documented_only=True,
    )
    server.start()
    settings.B2BROUTER_API_URL = server.url
    yield server
    server.stop()


def test_invoice_goes_to_b2brouter_and_back_through_a_worker(advancing_sandbox, tmp_path):
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory

    account = account_register(account=AccountFactory())
    invoice = InvoiceFactory(account=account, number="00002")
    worker = WorkerProcess(advancing_sandbox.url, advancing_sandbox.api_key,
                           log_path=tmp_path / "worker.log")
    worker.start()
    try:
        submission.invoice_request_send(invoice_id=invoice.pk)

        def reached_the_end():
            sync_states_task.delay()
            invoice.refresh_from_db()
            document = invoice.legal_documents.first()
            return invoice.state == S.PAID and document and document.acknowledged_at

        wait_for(reached_the_end, timeout=90, interval=1.0, message="paid, archived and acknowledged")
    finally:
        worker.stop()

    remote = advancing_sandbox.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]
    assert remote["number"] == "00002"
    assert remote["state"] == "paid"
    assert remote["ack_at"]
    document = invoice.legal_documents.get()
    content = bytes(document.content)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert content == sandbox_bytes(advancing_sandbox, remote["download_legal_url"])
    assert b"ESR_MISSION_FACTURES_DEPLACEMENTS" in content
    assert b"13001533200013" in content
    states = list(invoice.events.filter(kind=InvoiceEvent.Kind.STATE).values_list("to_state", flat=True))
    assert states[-1] == S.PAID
    # Polling sees snapshots, so intermediate states may be skipped; never out of order.
    remote_states = [s for s in states if s in REMOTE_RANK]
    assert remote_states == sorted(remote_states, key=REMOTE_RANK.get)
    assert S.QUEUED in states
    assert invoice.total == invoice.subtotal + invoice.tax_amount
    assert str(invoice.total) == "3712.50"
    assert str(remote["total"]) in ("3712.5", "3712.50")
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert advancing_sandbox.api_key not in log


def test_an_invoice_with_two_attachments_goes_through_a_worker_and_gets_its_pdf(
        advancing_sandbox, tmp_path):
    """Through a real worker: created without sending, both documents joined, sent; they are in
    its legal XML; its PDF is archived with a matching hash."""
    import base64

    from django.core.files.uploadedfile import SimpleUploadedFile
    from lxml import etree

    from invoicing.services import drafts
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory
    from tests.support.en16931 import fatal_rules, xsd_errors

    account = account_register(account=AccountFactory())
    invoice = InvoiceFactory(account=account, number="00003")
    order = b"%PDF-1.4\n% bon de commande 0123456\n%%EOF\n"
    report = b"%PDF-1.4\n% proces-verbal de reception\n%%EOF\n"
    for name, content in (("bon de commande.pdf", order), ("PV de réception.pdf", report)):
        drafts.attachment_add(invoice=invoice, upload=SimpleUploadedFile(name, content))
    worker = WorkerProcess(advancing_sandbox.url, advancing_sandbox.api_key,
                           log_path=tmp_path / "worker.log")
    worker.start()
    try:
        submission.invoice_request_send(invoice_id=invoice.pk)

        def archived():
            sync_states_task.delay()
            invoice.refresh_from_db()
            return invoice.legal_documents.exists() and invoice.pdfs.exists()

        wait_for(archived, timeout=90, interval=1.0, message="legal XML and PDF archived")
    finally:
        worker.stop()

    xml = bytes(invoice.legal_documents.get().content)
    assert xsd_errors(xml) == [] and fatal_rules(xml) == []
    ns = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
    objects = etree.fromstring(xml).findall(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", ns)
    assert [(o.get("filename"), base64.b64decode(o.text)) for o in objects] == [
        ("bon de commande.pdf", order), ("PV de réception.pdf", report)]
    pdf = invoice.pdfs.get()
    content = bytes(pdf.content)
    assert content.startswith(b"%PDF-") and pdf.sha256 == hashlib.sha256(content).hexdigest()
    assert content == sandbox_bytes(advancing_sandbox,
                                    f"/invoices/{invoice.remote_id}/as/pdf.invoice")
    held = advancing_sandbox.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]
    assert len(held["attachments"]) == 2


def test_a_workers_log_is_the_products_json_with_each_invoice_named(advancing_sandbox, tmp_path):
    """A worker keeps the product's logging (LOG_FORMAT, the context, the redaction), not
    Celery's own: every line is one JSON object, and those about the invoice name it."""
    import json

    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory

    account = account_register(account=AccountFactory())
    invoice = InvoiceFactory(account=account, number="00004")
    worker = WorkerProcess(advancing_sandbox.url, advancing_sandbox.api_key,
                           log_path=tmp_path / "worker.log")
    worker.env.update(LOG_FORMAT="json", LOG_LEVEL="INFO")
    worker.start()
    try:
        submission.invoice_request_send(invoice_id=invoice.pk)

        def submitted():
            invoice.refresh_from_db()
            return invoice.remote_id

        wait_for(submitted, timeout=60, interval=0.5, message="submitted by the worker")
    finally:
        worker.stop()
    lines = [line for line in (tmp_path / "worker.log").read_text(errors="replace").splitlines()
             if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    about = [e for e in entries if e.get("invoice") == "00004"]
    assert any(e["logger"] == "b2brouter" and "POST" in e["message"] for e in about), lines
    assert any(e["logger"] == "invoicing.services" and "submitted" in e["message"] for e in about)
    assert any(e["logger"].startswith("celery") and "succeeded" in e["message"] for e in entries)
    assert not [line for line in (tmp_path / "worker.log").read_text().splitlines()
                if line.startswith("[20")], "a line in Celery's own format"

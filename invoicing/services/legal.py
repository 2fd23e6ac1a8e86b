"""The legal XML of each deposit: fetched once and stored byte for byte with its SHA-256,
compared with the invoice, then acknowledged at B2Brouter, never before it is stored; and the
invoice's PDF, fetched once B2Brouter has made it, stored the same way beside it.

Neither is ever changed afterwards (the models and the database refuse it). B2Brouter is called
outside any transaction.
"""

import hashlib
import logging
from dataclasses import replace

from django.db import IntegrityError, transaction
from django.utils import timezone

import b2brouter
from core.gateway import b2brouter_client
from invoicing import legal_xml, states, totals, vat
from invoicing.lines import lines_of
from invoicing.models import Invoice, InvoicePdf, LegalDocument
from invoicing.services import enqueue, events
from invoicing.services.errors import PdfNotReady
from invoicing.services.logs import invoice_log_context, log
from invoicing.services.remote import invoice_refresh, parse_timestamp

logger = logging.getLogger(__name__)



def invoice_fetch_legal(*, invoice_id: int) -> LegalDocument | None:
    """Fetches and stores the exact legal XML of the invoice's current round, once.

    The address is the one B2Brouter gave for this invoice (asked with `GET /invoices/{id}` when
    none is held). A file that is not this invoice's (`legal_xml_identity_problems`) is not
    stored: the address is dropped and remembered, the history says why, and None is returned.
    The bytes are stored as received with their SHA-256, and never changed afterwards. The
    acknowledgement is enqueued only after the row is committed. Idempotent.
    """
    invoice = Invoice.objects.get(pk=invoice_id)
    existing = invoice.legal_documents.filter(submission_round=invoice.submission_round).first()
    if existing is None:
        if invoice.state not in states.DEPOSITED_STATES:
            return None
        if not invoice.download_legal_url:
            # The address of that very invoice, as B2Brouter answers for it.
            invoice = invoice_refresh(invoice_id=invoice_id)
            if not invoice.download_legal_url:
                return None
        url = invoice.download_legal_url
        with invoice_log_context(invoice):
            content, content_type = b2brouter_client().download_legal(url)
        problems = legal_xml_identity_problems(invoice, content)
        if problems:
            _legal_xml_refused(invoice, url, problems)
            return None
        try:
            with transaction.atomic():
                existing = LegalDocument.objects.create(
                    invoice=invoice,
                    submission_round=invoice.submission_round,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    size=len(content),
                    content_type=content_type,
                    source_url=invoice.download_legal_url,
                )
                events.exchange_event(invoice=invoice, method="GET",
                                      path=invoice.download_legal_url, status=200,
                                      code="legal_archived", params={"sha256": existing.sha256})
        except IntegrityError:
            # Another worker stored it first; theirs is the archive.
            existing = invoice.legal_documents.get(submission_round=invoice.submission_round)
        log(logging.INFO, invoice, "legal XML stored sha256=%s", existing.sha256)
        invoice_check_legal_xml(document=existing)
    if existing.acknowledged_at is None:
        enqueue.acknowledge_later(invoice.pk)
    return existing


def legal_xml_identity_problems(invoice: Invoice, content: bytes) -> list[str]:
    """Why a downloaded file is not this invoice's legal XML (empty when it is): it must be a
    UBL invoice or credit note as ours is, under our number, for our buyer (its SIRET, or its
    name where the XML gives no SIRET), from our account when the XML names the seller's SIRET."""
    try:
        facts = legal_xml.read(content)
    except (legal_xml.ParseError, ValueError) as exc:  # not XML, not UBL, or hostile
        return [f"XML illisible : {exc}"]
    problems = []
    if facts.number != invoice.number:
        problems.append(f"numéro « {facts.number} » au lieu de « {invoice.number} »")
    if facts.is_credit_note != (invoice.kind == Invoice.Kind.CREDIT_NOTE):
        problems.append("un avoir au lieu d'une facture" if facts.is_credit_note
                        else "une facture au lieu d'un avoir")
    if invoice.buyer_id:
        siret = "".join(facts.buyer.identifier(legal_xml.SIRET_SCHEME).split())
        if siret and siret != invoice.buyer.siret:
            problems.append(f"SIRET de l'acheteur « {siret} » au lieu de « {invoice.buyer.siret} »")
        elif not siret and facts.buyer.name.casefold() != invoice.buyer.name.casefold():
            problems.append(f"acheteur « {facts.buyer.name} » au lieu de « {invoice.buyer.name} »")
    seller = "".join(facts.seller.identifier(legal_xml.SIRET_SCHEME).split())
    ours = getattr(invoice.account, "siret", "")
    if seller and ours and seller != ours:
        problems.append(f"SIRET du fournisseur « {seller} » au lieu de « {ours} »")
    return problems


def _legal_xml_refused(invoice: Invoice, url: str, problems: list[str]) -> None:
    """Nothing archived: the address is dropped and remembered, and staff read why."""
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk, download_legal_url=url).update(
            download_legal_url="", legal_url_refused=url)
        events.legal_xml_refused_event(invoice=invoice, url=url, problems=problems)
    log(logging.WARNING, invoice, "legal XML refused, not archived: %s", "; ".join(problems))


def invoice_acknowledge(*, invoice_id: int) -> bool:
    """Tells B2Brouter (ack) that the invoice's legal XML is safely stored. Never before: without
    a stored document for the current round this does nothing. Returns True when acknowledged."""
    invoice = Invoice.objects.get(pk=invoice_id)
    document = invoice.legal_documents.filter(submission_round=invoice.submission_round).first()
    if document is None or invoice.remote_id is None:
        return False
    if document.acknowledged_at is not None:
        return True
    with invoice_log_context(invoice):
        remote = b2brouter_client().ack_invoice(invoice.remote_id) or {}
    # The answer need not hold the invoice (documented shapes vary): then it is acked now.
    acked_at = parse_timestamp(remote.get("ack_at")) or timezone.now()
    with transaction.atomic():
        LegalDocument.objects.filter(pk=document.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=acked_at
        )
        events.exchange_event(invoice=invoice, method="POST",
                              path=f"/invoices/{invoice.remote_id}/ack",
                         status=200, response_body={"ack_at": remote.get("ack_at")},
                         code="acknowledged")
    log(logging.INFO, invoice, "acknowledged")
    return True


def legal_xml_facts(content: bytes) -> dict:
    """The data a reconciliation compares, read from any UBL Invoice or CreditNote
    (`invoicing.legal_xml`)."""
    facts = legal_xml.read(content)
    return {
        "number": facts.number,
        "buyer_siret": facts.buyer.identifier(legal_xml.SIRET_SCHEME),
        "service_code": facts.buyer_reference,
        "po_number": facts.order_reference,
        "subtotal": facts.tax_exclusive,
        "total": facts.tax_inclusive,
        "tax_amount": facts.tax_amount,
        "breakdown": {b.key: (b.taxable, b.tax) for b in facts.breakdown},
    }


def _expected_breakdown(invoice: Invoice) -> dict:
    """Our VAT breakdown under the categories the legal XML carries (an E franchise line is
    written Z: B2Brouter's French guide)."""
    lines = [replace(line, vat_category=vat.xml_category(line.vat_category, line.exemption_code))
             for line in lines_of(invoice)]
    result = totals.compute(lines)
    return {(b.category, b.rate): (b.base, b.amount) for b in result.breakdown}


def legal_xml_discrepancies(invoice: Invoice, content: bytes) -> list[str]:
    """Each way in which the legal XML differs from our invoice (empty when they agree)."""
    try:
        facts = legal_xml_facts(content)
    except (legal_xml.ParseError, ValueError) as exc:  # not XML, not UBL, or hostile
        return [f"XML illisible : {exc}"]
    expected = {
        "number": invoice.number,
        "buyer_siret": invoice.buyer.siret if invoice.buyer_id else "",
        "service_code": invoice.buyer_reference,
        "po_number": invoice.po_number,
        "subtotal": invoice.subtotal,
        "tax_amount": invoice.tax_amount,
        "total": invoice.total,
    }
    labels = {"number": "numéro", "buyer_siret": "SIRET de l'acheteur", "service_code": "code service",
              "po_number": "n° d'engagement", "subtotal": "total HT", "tax_amount": "TVA",
              "total": "total TTC"}
    problems = [
        f"{labels[key]} : XML « {facts[key]} », facture « {value} »"
        for key, value in expected.items()
        if str(facts[key] if facts[key] is not None else "") != str(value)
    ]
    our_breakdown = _expected_breakdown(invoice)
    if facts["breakdown"] != our_breakdown:
        problems.append(
            "ventilation TVA : XML "
            + _breakdown_text(facts["breakdown"]) + ", facture " + _breakdown_text(our_breakdown)
        )
    return problems


def _breakdown_text(breakdown: dict) -> str:
    return "; ".join(f"{c} {r} % base {b} TVA {a}" for (c, r), (b, a) in sorted(breakdown.items()))


def invoice_check_legal_xml(*, document: LegalDocument) -> list[str]:
    """Compares the document with its invoice and records the result on the invoice."""
    invoice = document.invoice
    problems = legal_xml_discrepancies(invoice, bytes(document.content))
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(legal_xml_discrepancies=problems,
                                                     legal_xml_checked_at=timezone.now())
        if problems:
            events.legal_xml_differs_event(invoice=invoice, problems=problems)
    if problems:
        logger.warning("invoice=%s remote_id=%s legal XML differs: %s", invoice.number,
                       invoice.remote_id, problems)
    return problems


def invoice_fetch_pdf(*, invoice_id: int) -> InvoicePdf | None:
    """Fetches and stores the PDF of the invoice's current round, once it is deposited.

    B2Brouter makes it asynchronously: until it is ready this raises PdfNotReady, for the task
    to try again later (with backoff; nothing else waits on it). What is stored is checked to be
    a PDF first; the bytes are kept as received with their SHA-256, never changed. Idempotent.
    """
    invoice = Invoice.objects.get(pk=invoice_id)
    existing = invoice.pdfs.filter(submission_round=invoice.submission_round).first()
    if existing is not None:
        return existing
    if invoice.state not in states.DEPOSITED_STATES or invoice.remote_id is None:
        return None
    Invoice.objects.filter(pk=invoice.pk).update(pdf_attempted_at=timezone.now())
    try:
        with invoice_log_context(invoice):
            content, _content_type = b2brouter_client().download_pdf(invoice.remote_id)
    except b2brouter.NotFound as exc:
        raise PdfNotReady("the PDF is not ready yet", path=exc.path) from exc
    if not content.startswith(b"%PDF-"):
        log(logging.WARNING, invoice, "B2Brouter's PDF answer is not a PDF (%d bytes)", len(content))
        events.exchange_event(invoice=invoice, method="GET",
                              path=f"/invoices/{invoice.remote_id}/as/pdf.invoice", status=200,
                              code="pdf_not_a_pdf")
        return None
    try:
        with transaction.atomic():
            stored = InvoicePdf.objects.create(
                invoice=invoice, submission_round=invoice.submission_round, content=content,
                sha256=hashlib.sha256(content).hexdigest(), size=len(content))
            events.exchange_event(invoice=invoice, method="GET",
                                  path=f"/invoices/{invoice.remote_id}/as/pdf.invoice",
                                  status=200, code="pdf_archived",
                                  params={"sha256": stored.sha256})
    except IntegrityError:  # another worker stored it first
        stored = invoice.pdfs.get(submission_round=invoice.submission_round)
    log(logging.INFO, invoice, "PDF stored sha256=%s", stored.sha256)
    return stored


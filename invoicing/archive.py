"""The archive of legal XML: check it says what our invoices say, verify it has not changed, and
export it for finance as a ZIP streamed to the browser, memory flat whatever its size."""

import csv
import hashlib
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree as SafeET
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from invoicing.models import Invoice, InvoiceEvent, LegalDocument
from invoicing.zipstream import ZipStream

logger = logging.getLogger(__name__)

CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
SIRET_SCHEME = "0009"


# --- What the XML says ---------------------------------------------------------------------------

def _text(node, path: str) -> str:
    found = node.find(path)
    return (found.text or "").strip() if found is not None else ""


def _amount(node, path: str) -> Decimal | None:
    try:
        return Decimal(_text(node, path))
    except InvalidOperation:
        return None


def legal_xml_facts(content: bytes) -> dict:
    """The data a reconciliation compares, read from a UBL Invoice or CreditNote."""
    root = SafeET.fromstring(content)
    buyer = root.find(f"{CAC}AccountingCustomerParty/{CAC}Party")
    buyer_siret = ""
    if buyer is not None:
        for ident in buyer.findall(f"{CAC}PartyIdentification/{CBC}ID"):
            if ident.get("schemeID") == SIRET_SCHEME:
                buyer_siret = (ident.text or "").strip()
    totals = root.find(f"{CAC}LegalMonetaryTotal")
    breakdown = {}
    for subtotal in root.findall(f"{CAC}TaxTotal/{CAC}TaxSubtotal"):
        category = _text(subtotal, f"{CAC}TaxCategory/{CBC}ID")
        rate = _amount(subtotal, f"{CAC}TaxCategory/{CBC}Percent") or Decimal(0)
        breakdown[(category, rate.quantize(Decimal("0.01")))] = (
            _amount(subtotal, f"{CBC}TaxableAmount"), _amount(subtotal, f"{CBC}TaxAmount"))
    return {
        "number": _text(root, f"{CBC}ID"),
        "buyer_siret": buyer_siret,
        "service_code": _text(root, f"{CBC}BuyerReference"),
        "po_number": _text(root, f"{CAC}OrderReference/{CBC}ID"),
        "subtotal": _amount(totals, f"{CBC}TaxExclusiveAmount") if totals is not None else None,
        "total": _amount(totals, f"{CBC}TaxInclusiveAmount") if totals is not None else None,
        "tax_amount": _amount(root, f"{CAC}TaxTotal/{CBC}TaxAmount"),
        "breakdown": breakdown,
    }


def legal_xml_discrepancies(invoice: Invoice, content: bytes) -> list[str]:
    """Each way in which the legal XML differs from our invoice (empty when they agree)."""
    from invoicing import services, totals

    try:
        facts = legal_xml_facts(content)
    except SafeET.ParseError as exc:
        return [f"XML illisible : {exc}"]
    ours = totals.compute(services.line_inputs(invoice.lines.all()),
                          already_paid=invoice.billing_framework == Invoice.BillingFramework.A2)
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
    our_breakdown = {(b.category, b.rate): (b.base, b.amount) for b in ours.breakdown}
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
            InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE,
                                        source=InvoiceEvent.Source.WORKER,
                                        message="XML légal différent de la facture : " + " | ".join(problems))
    if problems:
        logger.warning("invoice=%s remote_id=%s legal XML differs: %s", invoice.number,
                       invoice.remote_id, problems)
    return problems


# --- Integrity -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mismatch:
    document_id: int
    invoice_number: str
    stored_sha256: str
    actual_sha256: str


def archive_verify(documents: QuerySet[LegalDocument] | None = None) -> tuple[int, list[Mismatch]]:
    """Re-hashes every archived document; returns how many were checked and which differ."""
    documents = documents if documents is not None else LegalDocument.objects.all()
    checked, mismatches = 0, []
    rows = documents.order_by("pk").values_list("pk", "invoice__number", "sha256", "content")
    for pk, number, stored, content in rows.iterator(chunk_size=200):
        checked += 1
        actual = hashlib.sha256(bytes(content)).hexdigest()
        if actual != stored:
            mismatches.append(Mismatch(pk, number, stored, actual))
    return checked, mismatches


# --- Export --------------------------------------------------------------------------------------

MANIFEST_HEADER = ["number", "kind", "issue_date", "buyer_siret", "buyer_name", "service_code",
                   "po_number", "subtotal", "tax_amount", "total", "currency", "state",
                   "submission_round", "file", "sha256", "fetched_at"]


def _file_name(number: str, submission_round: int) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in number)
    return f"{safe}.xml" if submission_round == 1 else f"{safe}-envoi{submission_round}.xml"


def archive_zip(documents: QuerySet[LegalDocument]) -> Iterator[bytes]:
    """Yields a ZIP of the documents' XML files, `manifest.csv` first, chunk by chunk.

    Memory stays flat whatever the number of files: rows are read in chunks from a server-side
    cursor, each file is handed out before the next is read, and the ZIP's central directory is
    written from a second pass over the rows (see `invoicing.zipstream`). The set is fixed at the
    start (documents are never deleted; newer ones are left for the next export).
    """
    last = documents.aggregate(last=Max("pk"))["last"] or 0
    base = documents.filter(pk__lte=last).order_by(
        "invoice__issue_date", "invoice__number", "submission_round", "pk")
    zip_stream = ZipStream(timezone.localtime())
    yield from zip_stream.streamed_file("manifest.csv", _manifest_chunks(base))
    rows = base.values_list("invoice__number", "submission_round", "content")
    for number, submission_round, content in rows.iterator(chunk_size=100):
        yield zip_stream.file(_file_name(number, submission_round), bytes(content))
    replay = (
        (_file_name(number, submission_round), size)
        for number, submission_round, size in base.values_list(
            "invoice__number", "submission_round", "size").iterator(chunk_size=2000)
    )
    yield from _batched(zip_stream.central_directory(replay), 64 * 1024)


def _batched(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Small chunks gathered into pieces of about `size` bytes (fewer, larger writes)."""
    pending, length = [], 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)


def _manifest_chunks(documents: QuerySet[LegalDocument]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(MANIFEST_HEADER)
    for index, row in enumerate(_manifest_rows(documents), start=1):
        writer.writerow(row)
        if index % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _manifest_rows(documents: QuerySet[LegalDocument]) -> Iterable[list]:
    rows = documents.values_list(
        "invoice__number", "invoice__kind", "invoice__issue_date", "invoice__buyer__siret",
        "invoice__buyer__name", "invoice__buyer_reference", "invoice__po_number",
        "invoice__subtotal", "invoice__tax_amount", "invoice__total", "invoice__currency",
        "invoice__state", "submission_round", "sha256", "fetched_at",
    )
    for (number, kind, issue_date, siret, name, service, po, subtotal, tax, total, currency, state,
         submission_round, sha256, fetched_at) in rows.iterator(chunk_size=500):
        yield [number, kind, issue_date or "", siret or "", name or "", service, po, subtotal, tax,
               total, currency, state, submission_round, _file_name(number, submission_round),
               sha256, fetched_at.isoformat() if fetched_at else ""]

"""The archive of legal XML for finance: verify it has not changed, and export it as a ZIP
streamed to the browser, memory flat whatever its size."""

import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Exists, Max, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Text cells are neutralised for spreadsheets; FORMULA_STARTS and csv_text_value are here too,
# for a program that reads the manifest.
from core.text import FORMULA_STARTS, csv_text, csv_text_value  # noqa: F401
from finance.zipstream import ZipStream
from invoicing.exports import BOM, amount_text, spreadsheet_writer
from invoicing.models import Invoice, InvoicePdf, LegalDocument
from invoicing.models import state_words as state_label


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


# The manifest's columns for a program (its header is in the reader's language).
MANIFEST_KEYS = ["invoice_id", "number", "kind", "issue_date", "buyer_siret", "buyer_name",
                 "service_code", "po_number", "subtotal", "tax_amount", "total", "currency",
                 "state", "submission_round", "file", "sha256", "fetched_at", "pdf_file",
                 "pdf_sha256"]


def manifest_read(data: bytes) -> list[dict[str, str]]:
    """The manifest's rows keyed by `MANIFEST_KEYS`, whichever language wrote it (its separator
    read from its header). Text cells are as written: `csv_text_value` gives their values."""
    import csv

    from django.utils import translation

    text = data.decode("utf-8-sig")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    headers = {}
    for language in ("fr", "en"):
        with translation.override(language):
            headers.update({str(label): key for label, key
                            in zip(manifest_header(), MANIFEST_KEYS, strict=True)})
    keys = [headers.get(label, label) for label in rows[0]]
    return [dict(zip(keys, row, strict=True)) for row in rows[1:]]


def manifest_header() -> list[str]:
    """The manifest's columns, in the reader's language (as the invoice list's export)."""
    return [_("N° interne"), _("Numéro"), _("Type"), _("Date d'émission"), _("SIRET"),
            _("Acheteur"), _("Code service"), _("N° d'engagement"), _("Total HT"), _("TVA"),
            _("Total TTC"), _("Devise"), _("État"), _("Envoi n°"), _("Fichier"), _("SHA-256"),
            _("Archivé le"), _("Fichier PDF"), _("SHA-256 du PDF")]


def file_name(number: str, submission_round: int, extension: str = ".xml") -> str:
    """The name of one downloaded file: the invoice's number, made safe for any file system."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in number)
    round_part = "" if submission_round == 1 else f"-envoi{submission_round}"
    return f"{safe}{round_part}{extension}"


def zip_name(number: str, invoice_id: int, submission_round: int, extension: str = ".xml") -> str:
    """The name of a file in the ZIP: the safe number, then the invoice's id, so that two numbers
    made safe alike (`+1+2`, `_1/2`) never share a name. The manifest names each file."""
    return file_name(f"{number}-id{invoice_id}", submission_round, extension)




def _pdfs(base: QuerySet[LegalDocument]) -> QuerySet[InvoicePdf]:
    """The PDFs beside the documents (same invoice and round), in the documents' order."""
    beside = base.filter(invoice=OuterRef("invoice"), submission_round=OuterRef("submission_round"))
    return InvoicePdf.objects.filter(Exists(beside)).order_by(
        "invoice__issue_date", "invoice__number", "submission_round", "pk")


def archive_zip(documents: QuerySet[LegalDocument], *, with_pdf: bool = False
                ) -> Iterator[bytes]:
    """Yields a ZIP of the documents' XML files (and, `with_pdf`, the invoices' PDFs beside
    them), `manifest.csv` first, chunk by chunk.

    Memory stays flat whatever the number of files: rows are read in chunks from a server-side
    cursor, each file is handed out before the next is read, and the ZIP's central directory is
    written from a second pass over the rows (see `finance.zipstream`). The set is fixed at the
    start (documents are never deleted; newer ones are left for the next export).
    """
    last = documents.aggregate(last=Max("pk"))["last"] or 0
    base = documents.filter(pk__lte=last).order_by(
        "invoice__issue_date", "invoice__number", "submission_round", "pk")
    pdfs = _pdfs(base)
    last_pdf = (pdfs.aggregate(last=Max("pk"))["last"] or 0) if with_pdf else None
    pdfs = pdfs.filter(pk__lte=last_pdf or 0)  # a PDF fetched meanwhile waits for the next export
    zip_stream = ZipStream(timezone.localtime())
    yield from zip_stream.streamed_file("manifest.csv", _manifest_chunks(base, last_pdf))
    rows = base.values_list("invoice__number", "invoice_id", "submission_round", "content")
    for number, invoice_id, submission_round, content in rows.iterator(chunk_size=100):
        yield zip_stream.file(zip_name(number, invoice_id, submission_round), bytes(content))
    if with_pdf:
        for number, invoice_id, submission_round, content in pdfs.values_list(
                "invoice__number", "invoice_id", "submission_round", "content").iterator(
                chunk_size=50):
            yield zip_stream.file(zip_name(number, invoice_id, submission_round, ".pdf"),
                                  bytes(content))

    def replay():
        yield from ((zip_name(number, invoice_id, submission_round), size)
                    for number, invoice_id, submission_round, size in base.values_list(
                        "invoice__number", "invoice_id", "submission_round", "size").iterator(
                        chunk_size=2000))
        if with_pdf:
            yield from ((zip_name(number, invoice_id, submission_round, ".pdf"), size)
                        for number, invoice_id, submission_round, size in pdfs.values_list(
                            "invoice__number", "invoice_id", "submission_round", "size").iterator(
                            chunk_size=2000))

    yield from _batched(zip_stream.central_directory(replay()), 64 * 1024)


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


def _manifest_chunks(documents: QuerySet[LegalDocument], last_pdf: int | None) -> Iterator[bytes]:
    """The manifest as the invoice list's export is laid out: in the reader's language, `;` and
    a decimal comma in French, a byte-order mark, states and kinds in words."""
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)
    writer.writerow(manifest_header())
    yield BOM
    for index, row in enumerate(_manifest_rows(documents, last_pdf), start=1):
        writer.writerow(row)
        if index % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _manifest_rows(documents: QuerySet[LegalDocument], last_pdf: int | None) -> Iterable[list]:
    """One row per document; its PDF's columns filled when PDFs are exported (`last_pdf`: the
    last PDF in the export, None for none) and it has one."""
    pdf_sha256 = InvoicePdf.objects.filter(invoice=OuterRef("invoice"),
                                           submission_round=OuterRef("submission_round"),
                                           pk__lte=last_pdf or 0)
    rows = documents.annotate(pdf_sha256=Subquery(pdf_sha256.values("sha256")[:1])).values_list(
        "invoice_id", "invoice__number", "invoice__kind", "invoice__issue_date", "invoice__buyer__siret",
        "invoice__buyer__name", "invoice__buyer_reference", "invoice__po_number",
        "invoice__subtotal", "invoice__tax_amount", "invoice__total", "invoice__currency",
        "invoice__state", "submission_round", "sha256", "fetched_at", "pdf_sha256",
    )
    for (invoice_id, number, kind, issue_date, siret, name, service, po, subtotal, tax, total,
         currency, state, submission_round, sha256, fetched_at, pdf) in rows.iterator(
            chunk_size=500):
        credit_note = kind == Invoice.Kind.CREDIT_NOTE
        if credit_note:  # counts negatively, as in every total
            subtotal, tax, total = -subtotal, -tax, -total
        # Text typed by users or read from outside (numbers, names, references) is neutralised;
        # amounts, ids, dates and hashes are written as they are.
        yield [invoice_id, csv_text(number), _("Avoir") if credit_note else _("Facture"),
               issue_date or "", csv_text(siret or ""), csv_text(name or ""),
               csv_text(service), csv_text(po), amount_text(subtotal), amount_text(tax),
               amount_text(total), currency, state_label(state, kind), submission_round,
               csv_text(zip_name(number, invoice_id, submission_round)),
               sha256, fetched_at.isoformat() if fetched_at else "",
               csv_text(zip_name(number, invoice_id, submission_round, ".pdf")) if pdf else "",
               pdf or ""]


def zip_file_name() -> str:
    """The name of a period's ZIP, in the reader's language: xml-legaux-20261203-1042.zip."""
    stem = _("xml-legaux")
    return f"{stem}-{timezone.localtime().strftime('%Y%m%d-%H%M')}.zip"


def _write_job(job, out, progress) -> str:
    """An export job of the archive (`core.exports`): the period and filters the page had, over
    the accounts the job covers and its creator still works for; progress in bytes."""
    from django.contrib.auth import get_user_model

    from core.exports import job_query
    from finance import selectors
    from finance.forms import ArchiveFilterForm

    user = get_user_model().objects.get(pk=job.created_by_id)
    form = ArchiveFilterForm(job_query(job) or None, user=user)
    documents = selectors.legal_documents(user=user, filters=form.filters()).filter(
        account_id__in=job.account_ids)
    with_pdf = form.pdf_wanted()
    total = documents.aggregate(size=Sum("size"))["size"] or 0
    if with_pdf:
        total += _pdfs(documents).aggregate(size=Sum("size"))["size"] or 0
    done = 0
    progress(0, total)
    for chunk in archive_zip(documents, with_pdf=with_pdf):
        out.write(chunk)
        done += len(chunk)
        progress(min(done, total), total)
    progress(total, total)
    return zip_file_name()


def register_exports() -> None:
    from core.exports import Exporter, register
    from core.roles import ADMINS, FINANCE

    register("archive.zip", Exporter(
        label=gettext_lazy("Archive des XML légaux (ZIP)"), roles=(FINANCE, ADMINS),
        extension=".zip", content_type="application/zip", write=_write_job))

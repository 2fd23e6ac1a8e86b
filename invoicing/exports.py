"""The invoice list as a file for a spreadsheet, with the list's filters: CSV (streamed, the
separators of the reader's language, text cells that cannot run as formulas) or XLSX (numbers
as numbers, dates as dates; XlsxWriter in constant-memory mode)."""

import csv
import io
import tempfile
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import get_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.text import csv_text
from invoicing.models import Invoice, InvoiceState, chorus_status_label


def _header() -> list[str]:
    return [_("Numéro"), _("Type"), _("Date d'émission"), _("Échéance"), _("Acheteur"),
            _("SIRET"), _("Code service"), _("N° d'engagement"), _("Total HT"), _("TVA"),
            _("Total TTC"), _("Devise"), _("État"), _("Statut Chorus Pro"), _("Motif")]


def _rows(invoices: QuerySet[Invoice]) -> Iterator[list]:
    """One row per invoice; a credit note's amounts count negatively, as in every total."""
    columns = invoices.select_related(None).values_list(
        "number", "kind", "issue_date", "due_date", "buyer__name", "buyer__siret",
        "buyer_reference", "po_number", "subtotal", "tax_amount", "total", "currency", "state",
        "chorus_status", "chorus_status_reason", "last_error", "pk")
    for (number, kind, issued, due, buyer, siret, service, po, subtotal, tax, total, currency,
         state, chorus, reason, error, pk) in columns.iterator(chunk_size=1000):
        sign = -1 if kind == Invoice.Kind.CREDIT_NOTE else 1
        yield [number or _("brouillon n° %(id)s") % {"id": pk},
               _("Avoir") if sign < 0 else _("Facture"), issued, due, buyer or "", siret or "",
               service, po, sign * subtotal, sign * tax, sign * total, currency,
               str(InvoiceState(state).label) if state in InvoiceState.values else state,
               chorus_status_label(chorus) if chorus else "", reason or error or ""]


def spreadsheet_writer(buffer) -> "csv.writer":
    """A CSV writer as a spreadsheet of the reader's language reads it: `;` where the language
    writes a decimal comma (French), `,` otherwise. (The file starts with a byte-order mark, so
    that spreadsheets read the accents: `BOM`.)"""
    return csv.writer(buffer, delimiter=";" if get_format("DECIMAL_SEPARATOR") == "," else ",")


BOM = "\ufeff".encode()


def amount_text(value) -> str:
    """An amount in a CSV cell, with the reader's decimal mark and no grouping: 3712,50."""
    return number_format(value, 2)


def invoices_csv(invoices: QuerySet[Invoice]) -> Iterator[bytes]:
    """The CSV, chunk by chunk: `;` and a decimal comma where the language writes them (French),
    `,` and a decimal point otherwise; UTF-8 with a byte-order mark so that spreadsheets read
    the accents."""
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)
    writer.writerow(_header())
    yield BOM + buffer.getvalue().encode()
    for row in _rows(invoices):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_cell(column, cell) for column, cell in enumerate(row)])
        yield buffer.getvalue().encode()


AMOUNT_COLUMNS = range(8, 11)


def _csv_cell(column: int, cell) -> str:
    if column in AMOUNT_COLUMNS:
        return amount_text(cell)
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    return csv_text("" if cell is None else cell)


def invoices_xlsx(invoices: QuerySet[Invoice]) -> bytes:
    """The XLSX as bytes (a list small enough to make while the page waits)."""
    with tempfile.TemporaryFile() as file:
        invoices_xlsx_write(invoices, file)
        file.seek(0)
        return file.read()


def invoices_xlsx_write(invoices: QuerySet[Invoice], file, progress=None) -> None:
    """The XLSX written to `file`: amounts as numbers with two decimals, dates as dates, a
    frozen header; `progress(rows)` every thousand rows."""
    import xlsxwriter

    book = xlsxwriter.Workbook(file, {"constant_memory": True, "in_memory": False,
                                      "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(_("Factures"))
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet.freeze_panes(1, 0)
    sheet.write_row(0, 0, _header(), bold)
    for r, row in enumerate(_rows(invoices), start=1):
        for c, cell in enumerate(row):
            if cell is None or cell == "":
                continue
            if c in AMOUNT_COLUMNS:
                sheet.write_number(r, c, float(cell), money)
            elif hasattr(cell, "isoformat"):
                sheet.write_datetime(r, c, cell, date)
            else:
                sheet.write_string(r, c, str(cell))
        if progress is not None and r % 1000 == 0:
            progress(r)
    sheet.set_column(0, 0, 16)
    sheet.set_column(4, 4, 36)
    sheet.set_column(8, 10, 14)
    book.close()


def listed_invoices(*, user, query) -> QuerySet[Invoice]:
    """The invoices the list shows for these filters (a QueryDict: the page's, or an export
    job's), sorted as on the page; a mistyped filter lists nothing."""
    from invoicing import selectors
    from invoicing.forms import SORTS, InvoiceFilterForm

    form = InvoiceFilterForm(query or None, buyers=selectors.buyers_for(user=user))
    sort_key = query.get("sort") if query.get("sort") in SORTS else "-created"
    return selectors.invoice_search(user=user, filters=form.filters(), sort=SORTS[sort_key])


def file_name(extension: str) -> str:
    """The name of the list's file, in the reader's language: factures-2026-12-03.csv."""
    stem = _("factures")
    return f"{stem}-{timezone.localdate().isoformat()}{extension}"


def _write_job(job, out, progress, *, extension: str) -> str:
    """An export job of the list (`core.exports`): the filters the page had, over the
    accounts the job covers and its creator still works for."""
    from django.contrib.auth import get_user_model

    from core.exports import job_query

    user = get_user_model().objects.get(pk=job.created_by_id)
    invoices = listed_invoices(user=user, query=job_query(job)).filter(
        account_id__in=job.account_ids)
    total = invoices.count()
    progress(0, total)
    if extension == ".csv":
        for index, chunk in enumerate(invoices_csv(invoices)):
            out.write(chunk)
            if index % 500 == 0:
                progress(min(index, total), total)
    else:
        invoices_xlsx_write(invoices, out, lambda done: progress(min(done, total), total))
    progress(total, total)
    return file_name(extension)


def register_exports() -> None:
    from functools import partial

    from core.exports import Exporter, register
    from core.roles import ALL

    register("invoices.csv", Exporter(
        label=gettext_lazy("Liste des factures (CSV)"), roles=ALL, extension=".csv",
        content_type="text/csv; charset=utf-8", write=partial(_write_job, extension=".csv")))
    register("invoices.xlsx", Exporter(
        label=gettext_lazy("Liste des factures (tableur XLSX)"), roles=ALL, extension=".xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        write=partial(_write_job, extension=".xlsx")))

"""The archive for finance: verified, exported as a streamed ZIP with its manifest."""

import csv
import datetime
import hashlib
import io
import zipfile

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from core import roles
from finance import archive
from invoicing.models import InvoicePdf, InvoiceState, LegalDocument
from invoicing.services import legal, remote, submission
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


def user_with(role, account):
    user = UserFactory()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    account.users.add(user)
    return user


def fake_document(invoice, content=b"<Invoice/>", sha256=None, submission_round=1):
    return LegalDocument.objects.create(
        invoice=invoice, submission_round=submission_round, content=content,
        sha256=sha256 or hashlib.sha256(content).hexdigest(), size=len(content),
        content_type="application/xml", source_url="/attachments/download/1/x.xml")


def test_verify_command_reports_a_mismatch(registered_account):
    invoice = InvoiceFactory(account=registered_account)
    fake_document(invoice)
    call_command("archive_verify")
    other = InvoiceFactory(account=registered_account)
    fake_document(other, sha256="0" * 64)  # as if the bytes had been altered behind our back
    checked, mismatches = archive.archive_verify()
    assert checked == 2 and [m.invoice_number for m in mismatches] == [other.number]
    with pytest.raises(CommandError, match="1 archived document"):
        call_command("archive_verify")


def test_zip_export_streams_every_file_and_a_manifest(client, registered_account):
    invoices = [InvoiceFactory(account=registered_account, issue_date=datetime.date(2026, 3, day))
                for day in (1, 2, 3)]
    outside = InvoiceFactory(account=registered_account, issue_date=datetime.date(2026, 5, 1))
    for invoice in [*invoices, outside]:
        fake_document(invoice, content=f"<Invoice><ID>{invoice.number}</ID></Invoice>".encode())
    fake_document(invoices[0], content=b"<Invoice>second round</Invoice>", submission_round=2)
    client.force_login(user_with(roles.FINANCE, registered_account))

    response = client.get("/finance/archive.zip", {"date_from": "2026-03-01", "date_to": "2026-03-31"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        manifest = archive.manifest_read(z.read("manifest.csv"))
        assert len(names) == 1 + 4
        assert f"{outside.number}.xml".replace("/", "_") not in names
        for row in manifest:
            content = z.read(row["file"])
            assert hashlib.sha256(content).hexdigest() == row["sha256"]
        assert {row["number"] for row in manifest} == {i.number for i in invoices}
        assert manifest[0]["total"] == "3712,50"  # the decimal comma of French spreadsheets
        assert manifest[0]["buyer_siret"] == "13001533200013"


def _zip_of(client, period):
    data = b"".join(client.get("/finance/archive.zip", period).streaming_content)
    return zipfile.ZipFile(io.BytesIO(data))


def test_numbers_made_safe_alike_keep_one_file_each_named_by_the_manifest(
        client, registered_account):
    """`+1+2`, `_1/2` and `_1_2` all become `_1_2` once made safe: the invoice's id beside it
    keeps three files, and each manifest row names its own."""
    invoices = [InvoiceFactory(account=registered_account, number=number,
                               issue_date=datetime.date(2026, 3, 1))
                for number in ("+1+2", "_1/2", "_1_2")]
    for invoice in invoices:
        fake_document(invoice, content=f"<Invoice><ID>{invoice.pk}</ID></Invoice>".encode())
        fake_document(invoice, content=f"<Invoice>{invoice.pk} round 2</Invoice>".encode(),
                      submission_round=2)
    client.force_login(user_with(roles.FINANCE, registered_account))
    with _zip_of(client, {"date_from": "2026-03-01", "date_to": "2026-03-31"}) as z:
        names = z.namelist()
        assert len(names) == len(set(names)) == 1 + 6
        rows = archive.manifest_read(z.read("manifest.csv"))
        for row in rows:
            file = archive.csv_text_value(row["file"])
            assert f"-id{row['invoice_id']}" in file
            assert hashlib.sha256(z.read(file)).hexdigest() == row["sha256"]
        assert sorted(archive.csv_text_value(row["number"]) for row in rows) == sorted(
            [i.number for i in invoices] * 2)


HOSTILE = '=HYPERLINK("ev.il",1);x;=cmd|\' /C calc\'!A0'


def test_no_cell_of_the_manifest_opens_as_a_formula_and_every_value_round_trips(
        client, registered_account):
    from directory.models import Buyer

    invoice = InvoiceFactory(account=registered_account, number="+1+2", po_number=HOSTILE,
                             issue_date=datetime.date(2026, 3, 1))
    Buyer.objects.filter(pk=invoice.buyer_id).update(name="@SUM(1+1)*cmd|' /C calc'!A0")
    others = [InvoiceFactory(account=registered_account, number=number,
                             issue_date=datetime.date(2026, 3, 2), po_number=po)
              for number, po in (("-3", "\t=1"), ("'quoted", "\r=2"), ("F-PLAIN", "PO 12"))]
    for i in [invoice, *others]:
        fake_document(i)
    client.force_login(user_with(roles.FINANCE, registered_account))
    with _zip_of(client, {"date_from": "2026-03-01", "date_to": "2026-03-31"}) as z:
        data = z.read("manifest.csv")
    from tests.core.test_text import formula_cells

    assert formula_cells(data.decode("utf-8-sig")) == []  # opened splitting on "," or on ";"
    body = archive.manifest_read(data)
    numeric = {"invoice_id", "subtotal", "tax_amount", "total", "submission_round"}
    for row in body:
        for column, cell in row.items():
            if column not in numeric:
                assert not cell.startswith(archive.FORMULA_STARTS), (column, cell)
    by_number = {archive.csv_text_value(r["number"]): r for r in body}
    assert set(by_number) == {"+1+2", "-3", "'quoted", "F-PLAIN"}
    assert archive.csv_text_value(by_number["+1+2"]["po_number"]) == HOSTILE
    assert archive.csv_text_value(by_number["+1+2"]["buyer_name"]) == "@SUM(1+1)*cmd|' /C calc'!A0"
    assert archive.csv_text_value(by_number["-3"]["po_number"]) == "\t=1"
    assert archive.csv_text_value(by_number["'quoted"]["po_number"]) == "\r=2"
    assert by_number["F-PLAIN"]["po_number"] == "PO 12"  # plain text is left as it is


def fake_pdf(invoice, content=b"%PDF-1.7 the invoice", submission_round=1):
    return InvoicePdf.objects.create(invoice=invoice, submission_round=submission_round,
                                     content=content, size=len(content),
                                     sha256=hashlib.sha256(content).hexdigest())


def test_zip_export_with_pdfs_lists_both_files_and_their_hashes(client, registered_account):
    with_pdf, without_pdf = (InvoiceFactory(account=registered_account,
                                            issue_date=datetime.date(2026, 3, day))
                             for day in (1, 2))
    for invoice in (with_pdf, without_pdf):
        fake_document(invoice, content=f"<Invoice><ID>{invoice.number}</ID></Invoice>".encode())
    pdf = fake_pdf(with_pdf, content=b"%PDF-1.7 " + with_pdf.number.encode())
    client.force_login(user_with(roles.FINANCE, registered_account))
    period = {"date_from": "2026-03-01", "date_to": "2026-03-31"}

    plain = b"".join(client.get("/finance/archive.zip", period).streaming_content)
    with zipfile.ZipFile(io.BytesIO(plain)) as z:
        assert not [name for name in z.namelist() if name.endswith(".pdf")]
        rows = archive.manifest_read(z.read("manifest.csv"))
        assert {row["pdf_file"] for row in rows} == {""}

    data = b"".join(client.get("/finance/archive.zip", {**period, "with_pdf": "on"}).streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        rows = {row["number"]: row for row in archive.manifest_read(z.read("manifest.csv"))}
        assert len(z.namelist()) == 1 + 2 + 1
        row = rows[with_pdf.number]
        assert row["pdf_file"] == archive.zip_name(with_pdf.number, with_pdf.pk, 1, ".pdf")
        assert row["pdf_sha256"] == pdf.sha256 == hashlib.sha256(z.read(row["pdf_file"])).hexdigest()
        assert hashlib.sha256(z.read(row["file"])).hexdigest() == row["sha256"]
        assert rows[without_pdf.number]["pdf_file"] == rows[without_pdf.number]["pdf_sha256"] == ""


def test_a_mistyped_period_exports_nothing_and_says_why(client, registered_account):
    fake_document(InvoiceFactory(account=registered_account))
    client.force_login(user_with(roles.FINANCE, registered_account))
    response = client.get("/finance/archive.zip", {"date_from": "2026-03-31", "date_to": "2026-03-01"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "précède son début" in response.content.decode()


def test_the_pdf_beside_an_archived_document_downloads_for_finance_only(client, registered_account):
    invoice = InvoiceFactory(account=registered_account)
    document = fake_document(invoice)
    pdf = fake_pdf(invoice)
    client.force_login(user_with(roles.STAFF, registered_account))
    assert client.get(f"/finance/archive/{document.pk}.pdf").status_code == 403
    client.force_login(user_with(roles.FINANCE, registered_account))
    response = client.get(f"/finance/archive/{document.pk}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == bytes(pdf.content)
    assert archive.file_name(invoice.number, 1, ".pdf") in response["Content-Disposition"]
    listing = client.get("/finance/archive/").content.decode()
    assert f"/finance/archive/{document.pk}.pdf" in listing


def test_zip_stream_reads_back_with_zipfile_and_unzip(tmp_path):
    """The hand-written ZIP (stored entries, ZIP64 directory) is read by zipfile and Info-ZIP."""
    import shutil
    import subprocess

    from django.utils import timezone

    from finance.zipstream import ZipStream

    stream = ZipStream(timezone.localtime())
    chunks = list(stream.streamed_file("manifest.csv", [b"number,sha256\n", b"F1,abc\n"]))
    files = {f"F{i}.xml": f"<Invoice>{i} é</Invoice>".encode() * (i + 1) for i in range(70)}
    chunks += [stream.file(name, data) for name, data in files.items()]
    chunks += list(stream.central_directory((name, len(data)) for name, data in files.items()))
    path = tmp_path / "export.zip"
    path.write_bytes(b"".join(chunks))
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.read("manifest.csv") == b"number,sha256\nF1,abc\n"
        for name, data in files.items():
            assert z.read(name) == data
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(path)], check=True, capture_output=True)


@pytest.mark.parametrize("language, delimiter, words", [
    ("fr", ";", ["Numéro", "Total TTC", "Facture", "déposée", "3712,50"]),
    ("en", ",", ["Number", "Total incl. VAT", "Invoice", "deposited", "3712.50"])])
def test_the_manifest_is_laid_out_like_the_lists_export(client, registered_account, language,
                                                        delimiter, words):
    """A byte-order mark, the reader's separator and decimal mark, headers, kinds and states in
    words: a spreadsheet in French opens it as it opens the invoice list's export."""
    from tests.invoicing.helpers import set_state

    invoice = set_state(InvoiceFactory(account=registered_account,
                                       issue_date=datetime.date(2026, 3, 1)), "sent")
    fake_document(invoice)
    client.force_login(user_with(roles.FINANCE, registered_account))
    client.cookies["django_language"] = language
    with _zip_of(client, {"date_from": "2026-03-01", "date_to": "2026-03-31"}) as z:
        data = z.read("manifest.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert len(header) == len(archive.MANIFEST_KEYS)
    for word in words:
        assert word in text, word


def test_an_empty_period_says_so_instead_of_an_empty_zip(client, registered_account):
    client.force_login(user_with(roles.FINANCE, registered_account))
    response = client.get(reverse("finance:archive_zip"),
                          {"date_from": "2031-01-01", "date_to": "2031-01-31"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Aucun document" in response.content.decode()

"""The legal XML archive: reconciled with the invoice, immutable, verifiable, exported as a ZIP."""

import csv
import datetime
import hashlib
import io
import zipfile

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, transaction

from core import roles
from finance import archive
from invoicing.models import Invoice, InvoiceState, LegalDocument
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
    invoice, document = archived
    Invoice.objects.filter(pk=invoice.pk).update(po_number="9999999", total="3712.51")
    problems = legal.invoice_check_legal_xml(document=LegalDocument.objects.get(pk=document.pk))
    assert any("engagement" in p for p in problems)
    assert any("total TTC" in p for p in problems)
    invoice.refresh_from_db()
    assert invoice.legal_xml_discrepancies == problems
    assert invoice.events.filter(message__startswith="XML légal différent").exists()


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
        manifest = list(csv.DictReader(io.StringIO(z.read("manifest.csv").decode())))
        assert len(names) == 1 + 4
        assert f"{outside.number}.xml".replace("/", "_") not in names
        for row in manifest:
            content = z.read(row["file"])
            assert hashlib.sha256(content).hexdigest() == row["sha256"]
        assert {row["number"] for row in manifest} == {i.number for i in invoices}
        assert manifest[0]["total"] == "3712.50"
        assert manifest[0]["buyer_siret"] == "13001533200013"


def test_finance_pages_and_who_sees_them(client, registered_account):
    invoice = InvoiceFactory(account=registered_account)
    document = fake_document(invoice)
    stranger_account_user = user_with(roles.FINANCE, InvoiceFactory().account)
    staff = user_with(roles.STAFF, registered_account)
    finance = user_with(roles.FINANCE, registered_account)

    assert client.get("/finance/archive/").status_code == 302  # anonymous: sign in
    client.force_login(staff)
    assert client.get("/finance/archive/").status_code == 403
    assert client.get(f"/finance/archive/{document.pk}.xml").status_code == 403
    client.force_login(stranger_account_user)
    assert client.get(f"/finance/archive/{document.pk}.xml").status_code == 404
    assert invoice.number not in client.get("/finance/archive/").content.decode()
    client.force_login(finance)
    page = client.get("/finance/archive/", {"buyer": invoice.buyer_id})
    assert page.status_code == 200 and invoice.number in page.content.decode()
    download = client.get(f"/finance/archive/{document.pk}.xml")
    assert download.content == b"<Invoice/>" and download["X-Content-SHA256"] == document.sha256
    bad = client.get("/finance/archive/", {"date_from": "2026-05-01", "date_to": "2026-01-01"})
    assert bad.status_code == 200 and "précède" in bad.content.decode()


def test_worklist_and_ageing(client, registered_account):
    refused = InvoiceFactory(account=registered_account)
    Invoice.objects.filter(pk=refused.pk).update(state="refused", chorus_status="REJETEE",
                                                 chorus_status_reason="Montant total erroné")
    old = InvoiceFactory(account=registered_account)
    long_ago = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    Invoice.objects.filter(pk=old.pk).update(state="registered", state_updated_at=long_ago)
    client.force_login(user_with(roles.FINANCE, registered_account))
    page = client.get("/finance/worklist/").content.decode()
    assert refused.number in page and "Montant total erroné" in page and "avoir" in page
    page = client.get("/finance/ageing/", {"days": 30}).content.decode()
    assert old.number in page
    assert client.get("/finance/ageing/", {"days": "abc"}).status_code == 200


def test_rejection_sends_an_email(registered_account, mailoutbox):
    author = UserFactory(email="author@example.fr")
    invoice = InvoiceFactory(account=registered_account, created_by=author)
    Invoice.objects.filter(pk=invoice.pk).update(state="refused", chorus_status="A_RECYCLER",
                                                 chorus_status_reason="Service inconnu")
    assert notify.invoice_notify_rejection(invoice_id=invoice.pk) == 1
    [mail] = mailoutbox
    assert invoice.number in mail.subject and mail.to == ["author@example.fr"]
    assert "Service inconnu" in mail.body and "même numéro" in mail.body


def test_worklist_pages_keep_their_query_count_as_the_list_grows(client, registered_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(user_with(roles.FINANCE, registered_account))

    def refused(count):
        for _ in range(count):
            invoice = InvoiceFactory(account=registered_account)
            Invoice.objects.filter(pk=invoice.pk).update(state="refused", chorus_status="REJETEE")

    refused(5)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/finance/worklist/").status_code == 200
    refused(55)
    with CaptureQueriesContext(connection) as large:
        page = client.get("/finance/worklist/")
    assert len(large) == len(small)
    assert page.content.decode().count('class="state-refused"') == 50
    assert "page 1" in page.content.decode() and "?page=2" in page.content.decode()


def test_dashboard_shows_what_changed_since_the_last_visit(client, registered_account):
    from invoicing.models import InvoiceEvent

    staff = user_with(roles.STAFF, registered_account)
    client.force_login(staff)
    first = client.get("/").content.decode()
    assert "Dernières nouvelles" in first
    invoice = InvoiceFactory(account=registered_account)
    InvoiceEvent.objects.create(invoice=invoice, kind="state", source="webhook", from_state="sent",
                                to_state="refused", chorus_status="REJETEE", reason="Montant erroné")
    page = client.get("/").content.decode()
    assert "Depuis votre dernière visite" in page
    assert invoice.number in page and "Montant erroné" in page
    again = client.get("/").content.decode()
    assert "Rien de nouveau" in again


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

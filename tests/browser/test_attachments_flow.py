"""A staff member joins supporting documents to the guide's invoice in a real headless Chromium
(a file Chorus Pro would refuse is turned down beside the field), sends it through a real
worker and the documented sandbox, and downloads its PDF; a finance colleague downloads the same
PDF from the archive. The legal XML carries both documents.

Screenshots go to test-artifacts/ (gitignored); the fixtures are in conftest.py.
"""

import base64
import hashlib
import re
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from lxml import etree

from core.roles import FINANCE
from finance.archive import manifest_read
from invoicing.models import Invoice
from tests.browser.conftest import SERVICE_CODE, shot, sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NS = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
PURCHASE_ORDER = b"%PDF-1.4\n% bon de commande 0123456\n%%EOF\n"
TIMESHEET = b"jour;heures\n2026-11-02;7\n2026-11-03;7,5\n"


def test_supporting_documents_go_with_the_invoice_and_its_pdf_comes_back(
        live_server, office, page, tmp_path):
    from playwright.sync_api import expect

    account, buyer = office["account"], office["buyer"]
    finance = UserFactory(username="dominique")
    finance.groups.add(Group.objects.get_or_create(name=FINANCE)[0])
    account.users.add(finance)

    sign_in(page, live_server, "camille", "/invoices/new/")
    expect(page.locator("h1")).to_have_text("Nouvelle facture")
    # Before the draft exists, the form says how to join documents.
    expect(page.locator("#attachments")).to_contain_text("Enregistrez le brouillon")

    # The guide's invoice, saved as a draft.
    page.select_option("#id_buyer", str(buyer.pk))
    page.select_option("#id_service", str(buyer.services.get(code=SERVICE_CODE).pk))
    page.fill("#id_po_number", "0123456")
    page.fill("#id_lines-0-description", "Cocktail Dinatoire")
    page.fill("#id_lines-0-quantity", "135")
    page.fill("#id_lines-0-unit_price", "25,00")
    page.fill("#id_lines-0-vat_rate", "10")
    expect(page.locator("#total-total")).to_contain_text(re.compile(r"3\s712,50"))
    page.click("button[value=save]")
    expect(page.locator(".message.success")).to_contain_text("Brouillon enregistré")
    invoice = Invoice.objects.get(account=account)

    # A file Chorus Pro refuses: the reason beside the field, the draft intact, nothing joined.
    bad = tmp_path / "programme.exe"
    bad.write_bytes(b"MZ\x90\x00")
    page.set_input_files("#id_file", str(bad))
    page.click("#attachments button:has-text('Joindre')")
    error = page.locator("#attachments .field.has-error")
    expect(error).to_contain_text(".exe")
    expect(page.locator("#id_lines-0-description")).to_have_value("Cocktail Dinatoire")
    shot(page, "attachment-refused")
    assert not invoice.attachments.exists()

    # Two supporting documents: the purchase order and a timesheet.
    for name, content in (("bon-de-commande.pdf", PURCHASE_ORDER),
                          ("releve-heures.csv", TIMESHEET)):
        path = tmp_path / name
        path.write_bytes(content)
        page.set_input_files("#id_file", str(path))
        page.click("#attachments button:has-text('Joindre')")
        expect(page.locator(".message.success")).to_contain_text(name)
    expect(page.locator("#attachments ul.attachments li")).to_have_count(2)
    shot(page, "attachments-joined")

    # Checked and sent; the page follows it until the legal XML and the PDF are there.
    page.click("button[value=check]")
    expect(page.locator("#check-result")).to_contain_text("peut partir")
    page.click("button[value=send]")
    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.pk}/$"))
    expect(page.locator("#invoice-progress")).to_contain_text("Télécharger le PDF", timeout=90_000)
    page.reload()
    expect(page.locator("ul.attachments li", has_text="bon-de-commande.pdf")).to_contain_text(
        "transmise à B2Brouter")
    shot(page, "invoice-detail-with-pdf")

    invoice.refresh_from_db()
    stored = invoice.pdfs.get()
    with page.expect_download() as download_info:
        page.click("text=Télécharger le PDF")
    download = download_info.value
    staff_pdf = Path(download.path()).read_bytes()
    assert staff_pdf.startswith(b"%PDF-") and staff_pdf == bytes(stored.content)
    assert hashlib.sha256(staff_pdf).hexdigest() == stored.sha256
    assert download.suggested_filename == "F2026-00001.pdf"

    # The legal XML carries both documents, byte for byte.
    xml = etree.fromstring(bytes(invoice.legal_documents.get().content))
    embedded = {ref.findtext("cbc:ID", namespaces=NS) or "": base64.b64decode(
        ref.findtext("cac:Attachment/cbc:EmbeddedDocumentBinaryObject", namespaces=NS))
        for ref in xml.iterfind("cac:AdditionalDocumentReference", NS)}
    filenames = {ref.find("cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS).get("filename")
                 for ref in xml.iterfind("cac:AdditionalDocumentReference", NS)}
    assert filenames == {"bon-de-commande.pdf", "releve-heures.csv"}
    assert sorted(embedded.values()) == sorted([PURCHASE_ORDER, TIMESHEET])

    # Finance: the same PDF from the archive.
    page.click("button:has-text('Se déconnecter')")
    sign_in(page, live_server, "dominique", "/finance/archive/")
    expect(page.locator("h1")).to_have_text("Archive des XML légaux")
    row = page.locator("tr", has_text="F2026-00001")
    shot(page, "archive-with-pdf")
    with page.expect_download() as download_info:
        row.locator("a", has_text="PDF").click()
    assert Path(download_info.value.path()).read_bytes() == staff_pdf

    # And in the period's ZIP when asked for.
    page.check("#id_with_pdf")
    with page.expect_download() as download_info:
        page.click("#archive-zip")
    with zipfile.ZipFile(download_info.value.path()) as z:
        manifest = manifest_read(z.read("manifest.csv"))
        name = f"F2026-00001-id{manifest[0]['invoice_id']}.pdf"
        assert [row["pdf_file"] for row in manifest] == [name]
        assert z.read(name) == staff_pdf
        assert manifest[0]["pdf_sha256"] == stored.sha256

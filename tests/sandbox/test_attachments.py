"""Supporting documents and the invoice's PDF: uploaded to a `new` invoice, embedded in the legal
XML (valid against the UBL schema and the EN 16931 rules), and the PDF served once generated."""

import base64
import io

import pytest
from lxml import etree
from pypdf import PdfReader

from tests.sandbox.conftest import AMU_SERVICE, Api, wait_for
from tests.support.en16931 import fatal_rules, xsd_errors
from tests.support.sandbox import SandboxProcess

NS = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CSV = b"date;heures\n2025-06-18;7,5\n"


def upload(api, invoice_id, name, content, **query):
    return api.session.post(f"{api.sandbox.url}/invoices/{invoice_id}/add_attachment",
                            params={"filename": name, **query}, data=content, timeout=10,
                            headers={"Content-Type": "application/octet-stream"})


def _new(api, account, amu, **fields):
    return api.create_invoice(account["id"], amu["id"], buyer_reference=AMU_SERVICE,
                              ponumber="0123456", **fields)["invoice"]


def test_attachments_go_into_the_legal_xml(api, account, amu):
    invoice = _new(api, account, amu)
    assert upload(api, invoice["id"], "bon de commande.pdf", PDF).status_code == 204
    assert upload(api, invoice["id"], "relevé d'heures.csv", CSV).status_code == 204
    listed = api.invoice(invoice["id"])["attachments"]
    assert [a["filename"] for a in listed] == ["bon de commande.pdf", "relevé d'heures.csv"]
    assert api.get(listed[1]["link"]).content == CSV
    api.ok("POST", f"/invoices/send_invoice/{invoice['id']}")
    sent = api.wait_state(invoice["id"], "sent")
    xml = api.get(sent["download_legal_url"]).content
    assert xsd_errors(xml) == [] and fatal_rules(xml) == []
    root = etree.fromstring(xml)
    objects = root.findall("cac:AdditionalDocumentReference/cac:Attachment/"
                           "cbc:EmbeddedDocumentBinaryObject", NS)
    assert [(o.get("filename"), o.get("mimeCode"), base64.b64decode(o.text)) for o in objects] == [
        ("bon de commande.pdf", "application/pdf", PDF), ("relevé d'heures.csv", "text/csv", CSV)]


def test_an_attachment_needs_a_name_and_content_and_a_new_invoice(api, account, amu):
    invoice = _new(api, account, amu)
    assert upload(api, invoice["id"], "", PDF).status_code == 422
    assert upload(api, invoice["id"], "vide.pdf", b"").status_code == 422
    assert upload(api, invoice["id"], "x.pdf", b"not a pdf", use_as_pdf_view="true"
                  ).status_code == 422
    api.ok("POST", f"/invoices/send_invoice/{invoice['id']}")
    assert upload(api, invoice["id"], "tard.pdf", PDF).status_code == 409


def test_the_pdf_is_served_once_generated(tmp_path):
    with SandboxProcess(data_dir=tmp_path, send_delay=0.02, pdf_delay=0.5) as server:
        api = Api(server)
        account = api.create_account()
        amu = api.create_chorus_contact(account["id"], name="UNIVERSITE D AIX MARSEILLE")
        invoice = api.create_invoice(account["id"], amu["id"], send=True,
                                     buyer_reference=AMU_SERVICE, ponumber="0123456")["invoice"]
        path = f"/invoices/{invoice['id']}/as/pdf.invoice"
        assert api.get(path, headers={"Accept": "application/pdf"}).status_code == 404
        answer = wait_for(lambda: (r := api.get(path)).status_code == 200 and r, timeout=5)
    assert answer.headers["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    for expected in (invoice["number"], "UNIVERSITE D AIX MARSEILLE", "Exemplar SAS",
                     "Cocktail Dinatoire", "10 %", "3 375,00 EUR", "337,50 EUR",
                     "3 712,50 EUR", AMU_SERVICE):
        assert expected in text, expected


def test_the_suppliers_own_pdf_is_the_invoices_visual(api, account, amu):
    invoice = _new(api, account, amu)
    assert upload(api, invoice["id"], "facture.pdf", PDF, use_as_pdf_view="true"
                  ).status_code == 204
    answer = api.get(f"/invoices/{invoice['id']}/as/pdf.invoice")
    assert answer.status_code == 200 and answer.content == PDF


@pytest.mark.parametrize("code", ["xml.ubl.invoice.bis3", "nothing"])
def test_other_renderings_are_not_served(api, account, amu, code):
    invoice = _new(api, account, amu)
    assert api.get(f"/invoices/{invoice['id']}/as/{code}").status_code == 404


def test_a_pdf_fault_answers_not_ready(tmp_path):
    with SandboxProcess(data_dir=tmp_path, pdf_delay=0) as server:
        api = Api(server)
        account = api.create_account()
        amu = api.create_chorus_contact(account["id"])
        invoice = _new(api, account, amu)
        path = f"/invoices/{invoice['id']}/as/pdf.invoice"
        api.ok("POST", "/_sandbox/faults", {"queue": [{"kind": "pdf_missing"}] * 2})
        assert [api.get(path).status_code for _ in range(3)] == [404, 404, 200]


def test_documented_only_shows_an_attachments_link_alone(tmp_path):
    with SandboxProcess(data_dir=tmp_path, documented_only=True) as server:
        api = Api(server)
        account = api.create_account()
        amu = api.create_chorus_contact(account["id"])
        invoice = _new(api, account, amu)
        assert upload(api, invoice["id"], "bon.pdf", PDF).status_code == 204
        listed = api.invoice(invoice["id"])["attachments"]
    assert [set(a) for a in listed] == [{"link"}] and listed[0]["link"].endswith("/bon.pdf")

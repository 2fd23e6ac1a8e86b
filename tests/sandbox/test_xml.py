"""The legal XML: valid against the UBL 2.1 XSD, and the EN 16931 arithmetic rules hold."""

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from lxml import etree

from tests.sandbox.conftest import AMU_SERVICE, AMU_SIRET, IBAN, line
from tests.support.sandbox import REPO_ROOT

XSD_DIR = Path(REPO_ROOT).parent / "shared" / "reference" / "ubl-2.1-xsd" / "maindoc"
NS = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
CASES = {
    "guide": dict(lines=[line("Cocktail Dinatoire", 135, 25, 10, unit=5)]),
    "several_rates": dict(lines=[
        line("Repas", 2, "19.99", 10), line("Matériel", 3, "33.33", 20),
        line("Livres", 7, "12.50", "5.5"), line("Presse", 1, "4.20", "2.1"),
        line("Matériel bis", "0.333", "100", 20, unit=3)]),
    "exempt_with_reason": dict(lines=[
        line("Formation", 1, 1500, 0, category="E", comment="Exonération art. 261-4-4° a du CGI"),
        line("Support", 1, 80, 20)]),
    "decimals": dict(lines=[line("Prestation", "3.5", "12.345", 20, unit=2),
                            line("Prestation", "1.005", "1", 20)]),
    "credit_note": dict(is_credit_note=True, amended_number="00002", amended_date="2025-06-18",
                        amended_reason="Erreur de quantité",
                        lines=[line("Avoir cocktail", 10, 25, 10, unit=5)]),
    "already_paid_a2": dict(billing_framework="A2", contract_reference="MARCHE-2025-42",
                            lines=[line("Billets", 4, "87.10", 10)]),
}


@pytest.fixture(scope="module")
def schemas():
    return {kind: etree.XMLSchema(etree.parse(str(XSD_DIR / f"UBL-{kind}-2.1.xsd")))
            for kind in ("Invoice", "CreditNote")}


@pytest.fixture(scope="module")
def documents(sandbox):
    """Every case sent to UNIVERSITE D AIX MARSEILLE; its legal XML parsed (with the invoice)."""
    from tests.sandbox.conftest import Api

    api = Api(sandbox)
    account = api.create_account()
    amu = api.create_chorus_contact(account["id"], AMU_SIRET, "UNIVERSITE D AIX MARSEILLE")
    created = {name: api.create_invoice(account["id"], amu["id"], send=True, ponumber="0123456",
                                        buyer_reference=AMU_SERVICE, notes="Note",
                                        **fields)["invoice"] for name, fields in CASES.items()}
    result = {}
    for name, invoice in created.items():
        sent = api.wait_state(invoice["id"], "sent")
        raw = api.get(sent["download_legal_url"], headers={"Accept": "application/xml"}).content
        result[name] = (sent, etree.fromstring(raw))
    return result


def amount(node, path):
    return Decimal(node.findtext(path, namespaces=NS))


def amounts(node, path):
    return [Decimal(e.text) for e in node.findall(path, NS)]


def r2(value):
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize("case", CASES)
def test_valid_against_the_ubl_xsd(documents, schemas, case):
    _, doc = documents[case]
    kind = etree.QName(doc).localname
    assert kind == ("CreditNote" if case == "credit_note" else "Invoice")
    schema = schemas[kind]
    assert schema.validate(doc), schema.error_log


@pytest.mark.parametrize("case", CASES)
def test_en16931_arithmetic(documents, case):
    invoice, doc = documents[case]
    lines = doc.findall("cac:InvoiceLine", NS) + doc.findall("cac:CreditNoteLine", NS)
    assert lines  # BR-16
    total = doc.find("cac:LegalMonetaryTotal", NS)
    line_sum = sum((amount(n, "cbc:LineExtensionAmount") for n in lines), Decimal(0))
    assert line_sum == amount(total, "cbc:LineExtensionAmount")  # BR-CO-10
    assert amount(total, "cbc:TaxExclusiveAmount") == line_sum  # BR-CO-13, no allowances
    tax_total = doc.find("cac:TaxTotal", NS)
    subtotals = tax_total.findall("cac:TaxSubtotal", NS)
    assert amount(tax_total, "cbc:TaxAmount") == sum(
        (amount(s, "cbc:TaxAmount") for s in subtotals), Decimal(0))  # BR-CO-14
    assert amount(total, "cbc:TaxInclusiveAmount") == (
        amount(total, "cbc:TaxExclusiveAmount") + amount(tax_total, "cbc:TaxAmount"))  # BR-CO-15
    prepaid = Decimal(total.findtext("cbc:PrepaidAmount", "0", NS))
    assert amount(total, "cbc:PayableAmount") == (
        amount(total, "cbc:TaxInclusiveAmount") - prepaid)  # BR-CO-16
    for node in lines:
        quantity = amounts(node, "cbc:InvoicedQuantity") + amounts(node, "cbc:CreditedQuantity")
        (quantity,) = quantity
        price = amount(node, "cac:Price/cbc:PriceAmount")
        assert amount(node, "cbc:LineExtensionAmount") == r2(quantity * price)
    for sub in subtotals:
        category = sub.findtext("cac:TaxCategory/cbc:ID", namespaces=NS)
        percent = amount(sub, "cac:TaxCategory/cbc:Percent")
        base = amount(sub, "cbc:TaxableAmount")
        assert amount(sub, "cbc:TaxAmount") == r2(base * percent / 100)  # BR-CO-17
        same = [amount(n, "cbc:LineExtensionAmount") for n in lines
                if n.findtext("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", namespaces=NS)
                == category and amount(n, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent")
                == percent]
        assert base == sum(same, Decimal(0))  # BR-S-08 (and its E/Z analogues)
        if category == "E":
            assert sub.findtext("cac:TaxCategory/cbc:TaxExemptionReason", namespaces=NS)
    assert amount(total, "cbc:PayableAmount") == invoice["payable_amount"]
    assert amount(total, "cbc:TaxInclusiveAmount") == invoice["total"]


def test_chorus_data_sits_where_chorus_reads_it(documents):
    _, doc = documents["already_paid_a2"]
    text = lambda path: doc.findtext(path, namespaces=NS)  # noqa: E731
    assert text("cbc:CustomizationID") == "urn:cen.eu:en16931:2017"
    assert text("cbc:ProfileID") == "A2"
    assert text("cbc:InvoiceTypeCode") == "380"
    assert text("cbc:BuyerReference") == AMU_SERVICE
    assert text("cac:OrderReference/cbc:ID") == "0123456"
    assert text("cac:ContractDocumentReference/cbc:ID") == "MARCHE-2025-42"
    buyer = doc.find("cac:AccountingCustomerParty/cac:Party", NS)
    siret = buyer.find("cac:PartyIdentification/cbc:ID", NS)
    assert (siret.text, siret.get("schemeID")) == (AMU_SIRET, "0009")
    assert buyer.findtext("cac:PartyLegalEntity/cbc:CompanyID", namespaces=NS) == AMU_SIRET
    seller = doc.find("cac:AccountingSupplierParty/cac:Party", NS)
    assert seller.findtext("cac:PartyIdentification/cbc:ID", namespaces=NS) == "54210765100011"
    siren = seller.find("cac:PartyLegalEntity/cbc:CompanyID", NS)
    assert (siren.text, siren.get("schemeID")) == ("542107651", "0002")
    assert seller.findtext("cac:PartyTaxScheme/cbc:CompanyID", namespaces=NS) == "FR13542107651"
    assert text("cac:PaymentMeans/cbc:PaymentMeansCode") == "30"
    assert text("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == IBAN
    assert text("cac:LegalMonetaryTotal/cbc:PayableAmount") == "0.00"


def test_credit_note_references_the_invoice(documents):
    _, doc = documents["credit_note"]
    assert doc.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "381"
    ref = "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
    assert doc.findtext(ref, namespaces=NS) == "00002"


def test_unit_codes_and_rounding(documents):
    invoice, doc = documents["decimals"]
    first = doc.find("cac:InvoiceLine", NS)
    assert first.find("cbc:InvoicedQuantity", NS).get("unitCode") == "HUR"
    assert first.findtext("cbc:LineExtensionAmount", namespaces=NS) == "43.21"  # 43.2075
    assert str(invoice["subtotal"]) == "44.22"  # 43.21 + 1.01 (1.005 rounds half up)
    assert str(invoice["tax_amount"]) == "8.84"  # 20 % of 44.22 = 8.844

"""The reconciliation reads any valid UBL invoice or credit note, not only the sandbox's: each of
CEN/TC 434's official examples is parsed, and its totals and VAT breakdown read as the XML states
them (compared with an independent XPath reading, and with the EN 16931 sums they satisfy)."""

from decimal import Decimal

import pytest
from lxml import etree

from invoicing import legal_xml
from tests.support.en16931 import EXAMPLES

NS = {"cbc": legal_xml.UBL_CBC, "cac": legal_xml.UBL_CAC}
FILES = sorted(EXAMPLES.glob("*.xml"))


def xpath_amount(root, path):
    found = root.xpath(path, namespaces=NS)
    return Decimal(found[0].strip()) if found else None


def test_the_official_examples_are_there():
    assert len(FILES) >= 14, FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_official_example_is_read_as_it_states(path):
    content = path.read_bytes()
    facts = legal_xml.read(content)
    root = etree.fromstring(content)
    assert facts.kind == etree.QName(root).localname
    assert facts.number == root.findtext("cbc:ID", namespaces=NS).strip()
    currency = root.findtext("cbc:DocumentCurrencyCode", namespaces=NS).strip()
    assert facts.currency == currency
    money = "cac:LegalMonetaryTotal/cbc:"
    assert facts.tax_exclusive == xpath_amount(root, money + "TaxExclusiveAmount/text()")
    assert facts.tax_inclusive == xpath_amount(root, money + "TaxInclusiveAmount/text()")
    assert facts.payable == xpath_amount(root, money + "PayableAmount/text()")
    assert facts.line_extension == xpath_amount(root, money + "LineExtensionAmount/text()")
    # The VAT total in the document's currency (BT-110), not the accounting one (BT-111).
    assert facts.tax_amount == xpath_amount(
        root, f"cac:TaxTotal/cbc:TaxAmount[@currencyID='{currency}']/text()")
    subtotals = root.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    assert len(facts.breakdown) == len(subtotals) >= 1
    for read, node in zip(facts.breakdown, subtotals, strict=True):
        assert read.category == node.findtext("cac:TaxCategory/cbc:ID", namespaces=NS).strip()
        assert read.taxable == Decimal(node.findtext("cbc:TaxableAmount", namespaces=NS))
        assert read.tax == Decimal(node.findtext("cbc:TaxAmount", namespaces=NS))
        rate = node.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS)
        assert read.rate == (Decimal(rate) if rate is not None else None)
    # What EN 16931 makes true of a valid document holds of what was read (BR-CO-13/14/15).
    assert sum(b.tax for b in facts.breakdown) == facts.tax_amount
    allowances = facts.allowance_total or 0
    charges = facts.charge_total or 0
    assert facts.tax_exclusive == facts.line_extension - allowances + charges
    assert facts.tax_exclusive + facts.tax_amount == facts.tax_inclusive
    line_tag = "cac:CreditNoteLine" if facts.kind == "CreditNote" else "cac:InvoiceLine"
    assert len(facts.lines) == len(root.findall(line_tag, NS))
    assert sum(line.net_amount for line in facts.lines) == facts.line_extension


def test_a_second_vat_total_in_the_accounting_currency_is_read_apart():
    path = next(p for p in FILES if b"<cbc:TaxCurrencyCode>" in p.read_bytes())
    facts = legal_xml.read(path.read_bytes())
    assert facts.tax_currency and facts.tax_currency != facts.currency
    assert facts.tax_amount_in_tax_currency is not None
    assert facts.tax_amount == sum(b.tax for b in facts.breakdown)


def test_what_is_not_ubl_is_said_so():
    with pytest.raises(legal_xml.NotUbl):
        legal_xml.read(b"<Invoice/>")
    with pytest.raises(legal_xml.ParseError):
        legal_xml.read(b"not xml")

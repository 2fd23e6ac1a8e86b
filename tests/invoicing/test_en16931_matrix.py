"""Every legal XML the product's flows produce passes the UBL 2.1 schema and the official
EN 16931 rules (CEN/TC 434's XSLT, run with saxonche): a matrix of invoices and credit notes made
as users make them (drafts, checks, issue, submission to the documented-only sandbox, legal XML
fetched), over every VAT category the product accepts, mixed rates, rounding-heavy lines, 50
lines, both billing frameworks, PO, contract and service code, accents and XML's special
characters. Each document is also reconciled with its invoice (no discrepancy)."""

import datetime
from decimal import Decimal

import pytest

from invoicing.lines import Line
from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from invoicing.services import crediting, drafts, legal, remote, submission
from tests.conftest import wait_for
from tests.factories import BuyerFactory, ServiceFactory
from tests.support.en16931 import failed_rules, xsd_errors

pytestmark = pytest.mark.django_db

D = Decimal
SPECIAL = "Café « spécial » & <b>gras</b> 'simple' \"double\" ½ — œuvre"
NOTES = ("#PMD#Intérêts de retard : taux BCE + 8 points.\n#PMT#Indemnité forfaitaire : 40 €.\n"
         "#AAB#Pas d'escompte & aucune <remise>.")
FRANCHISE_NOTES = NOTES + "\n#AAI#TVA non applicable, art. 293 B du CGI."


def line(description="Prestation", quantity="1", price="100", category="S", rate="20", code=""):
    return Line(description=description, quantity=D(quantity), unit_price=D(price),
                vat_category=category, vat_rate=D(rate), exemption_code=code)


CASES = {
    "S 20 %": [line()],
    "S 10 % (the guide's)": [line("Cocktail Dinatoire", "135", "25.00", rate="10")],
    "S 5.5 %": [line("Repas", "12", "14.20", rate="5.5")],
    "S 2.1 %": [line("Presse", "3", "7.90", rate="2.1")],
    "S overseas 8.5 %": [line("Matériel", "2", "310", rate="8.5")],
    "mixed rates and Z": [line("A", "2", "100", rate="20"), line("B", "3", "33.33", rate="10"),
                          line("C", "1", "12.34", rate="5.5"), line("D", "7", "1.99", rate="2.1"),
                          line("E", "1", "50", "Z", "0")],
    "Z only": [line("Livres scolaires", "10", "12.5", "Z", "0")],
    "E with its VATEX code": [line("Formation", "2", "700", "E", "0", "VATEX-FR-CGI261-4")],
    "E and S mixed": [line("Formation", "1", "700", "E", "0", "VATEX-FR-CGI261-4"),
                      line("Supports", "20", "4.15", rate="20")],
    "AE reverse charge": [line("Travaux sous-traités", "1", "12500", "AE", "0", "VATEX-FR-AE")],
    "G export": [line("Matériel expédié hors UE", "4", "899.99", "G", "0", "VATEX-EU-G")],
    "rounding-heavy": [line("Tiers d'heure", "0.333333", "3.333333", rate="20"),
                       line("Vis", "3", "0.335", rate="20"), line("Écrou", "7", "0.145", rate="5.5"),
                       line("Joint", "1.5", "1.005", rate="10"), line("Goutte", "0.001", "0.01",
                                                                    rate="2.1")],
    "50 lines": [line(f"Ligne {n}", str(1 + n % 7), f"{(n * 7.31) % 97 + 0.05:.2f}",
                      rate=("20", "10", "5.5", "2.1")[n % 4]) for n in range(50)],
    "accents and special characters": [line(SPECIAL, "2", "45.5")],
}


def _sent(invoice: Invoice) -> Invoice:
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT, timeout=15)
    invoice.refresh_from_db()
    return invoice


def _valid(invoice: Invoice) -> bytes:
    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    xml = bytes(document.content)
    assert xsd_errors(xml) == []
    fatal = [(rule, text) for rule, flag, text in failed_rules(xml) if flag == "fatal"]
    assert fatal == [], fatal
    assert legal.legal_xml_discrepancies(invoice, xml) == []
    return xml


@pytest.fixture
def routed(registered_account):
    buyer = BuyerFactory(account=registered_account)
    return registered_account, buyer, ServiceFactory(buyer=buyer)


def _draft(routed, lines, **fields) -> Invoice:
    account, buyer, service = routed
    today = datetime.date.today()
    data = drafts.DraftData(buyer=buyer, service=service, issue_date=today,
                            due_date=today + datetime.timedelta(days=30), po_number="PO-2026/0042",
                            contract_reference="MARCHE-2026-007", iban=account.iban, notes=NOTES)
    for name, value in fields.items():
        setattr(data, name, value)
    return drafts.draft_create(account=account, data=data, lines=lines)


# Every case as A1; A2 (already paid: it changes the totals only) on a few.
MATRIX = [(case, "A1") for case in sorted(CASES)] + [
    (case, "A2") for case in ("S 20 %", "mixed rates and Z", "E with its VATEX code")]


@pytest.mark.parametrize("case, framework", MATRIX)
def test_every_invoice_passes_the_schema_and_the_rules(routed, case, framework):
    invoice = _sent(_draft(routed, CASES[case], billing_framework=framework))
    xml = _valid(invoice)
    assert invoice.number.encode() in xml
    if case == "accents and special characters":
        assert "Café « spécial » &amp; &lt;b&gt;gras&lt;/b&gt;".encode() in xml
    if framework == "A2":
        assert b"<cbc:PayableAmount" in xml and invoice.payable_amount == 0


def test_a_franchise_exemption_passes_as_zero_rated(routed):
    lines = [line("Conseil", "3", "450", "E", "0", "VATEX-FR-FRANCHISE")]
    xml = _valid(_sent(_draft(routed, lines, notes=FRANCHISE_NOTES)))
    assert b"<cbc:ID>Z</cbc:ID>" in xml  # B2Brouter's French guide: transcoded to Z


@pytest.mark.parametrize("case, partial", [("S 10 % (the guide's)", True),
                                           ("mixed rates and Z", True),
                                           ("E with its VATEX code", True),
                                           ("rounding-heavy", False), ("50 lines", False)])
def test_every_credit_note_passes_too(routed, case, partial):
    invoice = _sent(_draft(routed, CASES[case]))
    _valid(invoice)
    if partial:  # half of each line first, then the rest
        half = _sent(crediting.credit_note_create(
            invoice_id=invoice.pk,
            credit=crediting.Credit(quantities={row.pk: (row.quantity / 2).quantize(D("0.000001"))
                        for row in invoice.lines.all()})))
        xml = _valid(half)
        assert b"<CreditNote" in xml and invoice.number.encode() in xml  # BT-25
    rest = _sent(crediting.credit_note_create(invoice_id=invoice.pk))
    xml = _valid(rest)
    assert b"<CreditNote" in xml and invoice.number.encode() in xml
    assert crediting.credit_status(invoice).fully_credited


@pytest.mark.parametrize("case", ["S 10 % (the guide's)", "mixed rates and Z",
                                  "E with its VATEX code"])
def test_credit_notes_of_an_amount_pass_too(routed, case):
    """A rebate on a line (an amount excluding VAT) and an amount including VAT shared among
    the lines: each a credit note the rules accept, the rest credited after."""
    invoice = _sent(_draft(routed, CASES[case]))
    first = invoice.lines.order_by("position").first()
    rebate = _sent(crediting.credit_note_create(invoice_id=invoice.pk, credit=crediting.Credit(
        amounts={first.pk: (first.line_total / 3).quantize(D("0.01"))})))
    assert b"<CreditNote" in _valid(rebate)
    shared = _sent(crediting.credit_note_create(invoice_id=invoice.pk, credit=crediting.Credit(
        total=(crediting.credit_status(invoice).total_remaining / 2).quantize(D("0.01")))))
    assert b"<CreditNote" in _valid(shared)
    rest = _sent(crediting.credit_note_create(invoice_id=invoice.pk))
    _valid(rest)
    assert crediting.credit_status(invoice).total_remaining <= D("0.01") * 3

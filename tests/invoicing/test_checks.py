"""The pre-send checks: each rule that would make B2Brouter or Chorus Pro reject the invoice."""

import datetime
from decimal import Decimal

import pytest

from directory.models import Buyer, Service
from invoicing.checks import invoice_problems, number_problems
from invoicing.models import Invoice, InvoiceLine


def buyer(**flags) -> Buyer:
    return Buyer(pk=1, siret="13001533200013", name="UNIVERSITE D AIX MARSEILLE", **flags)


def service(of: Buyer, **fields) -> Service:
    fields.setdefault("code", "ESR_MISSION_FACTURES_DEPLACEMENTS")
    return Service(pk=2, buyer=of, **fields)


def line(**fields) -> InvoiceLine:
    values = {"description": "Cocktail Dinatoire", "quantity": Decimal("135"),
              "unit_price": Decimal("25.00"), "vat_category": "S", "vat_rate": Decimal("10"),
              "exemption_code": ""}
    values.update(fields)
    return InvoiceLine(**values)


def invoice(**fields) -> Invoice:
    """The guide's invoice, unsaved: the checks need no database."""
    to = fields.pop("buyer") if "buyer" in fields else buyer(service_code_required=True,
                                                               engagement_required=True)
    values = {"number": "F2026-00001", "issue_date": datetime.date(2025, 6, 18),
              "due_date": datetime.date(2025, 7, 18), "po_number": "0123456",
              "iban": "FR7630006000011234567890189", "buyer": to,
              "service": service(to) if to else None}
    values.update(fields)
    return Invoice(**values)


def problems(inv: Invoice, lines=None) -> dict:
    return invoice_problems(inv, [line()] if lines is None else lines)


def test_the_guides_invoice_has_no_problem():
    assert problems(invoice()) == {}


def test_a_missing_service_code_where_the_buyer_requires_it():
    assert "service" in problems(invoice(service=None))


def test_no_service_code_is_fine_where_the_buyer_does_not_require_it():
    assert problems(invoice(buyer=buyer(), service=None, po_number="")) == {}


def test_a_missing_commitment_where_the_buyer_requires_it():
    assert problems(invoice(po_number=""))["po_number"] == ["Cet acheteur exige un numéro d'engagement."]


def test_a_missing_commitment_where_the_chosen_service_requires_it():
    to = buyer()
    result = problems(invoice(buyer=to, service=service(to, engagement_required=True), po_number=""))
    assert result["po_number"] == ["Ce service exige un numéro d'engagement."]


def test_either_service_code_or_commitment_one_is_enough():
    to = buyer(service_code_or_engagement_required=True)
    assert "service" in problems(invoice(buyer=to, service=None, po_number=""))
    assert problems(invoice(buyer=to, service=None, po_number="0123456")) == {}
    assert problems(invoice(buyer=to, service=service(to), po_number="")) == {}


def test_an_inactive_service():
    to = buyer()
    assert "inactif" in problems(invoice(buyer=to, service=service(to, active=False)))["service"][0]


def test_a_service_of_another_buyer():
    other = Buyer(pk=9, siret="11000201100044", name="OTHER")
    assert "service" in problems(invoice(buyer=buyer(), service=service(other)))


def test_a_buyer_not_yet_registered_at_b2brouter_is_not_a_problem():
    to = buyer(service_code_required=True, engagement_required=True)
    assert to.remote_contact_id is None
    assert problems(invoice(buyer=to, service=service(to))) == {}


def test_no_buyer():
    assert "buyer" in problems(invoice(buyer=None, service=None))


@pytest.mark.parametrize("category,rate,code,field", [
    ("S", "0", "", "lines-0-vat_rate"),
    ("S", "7", "", "lines-0-vat_rate"),  # not a French rate
    ("S", "19.6", "", "lines-0-vat_rate"),  # no longer one
    ("Z", "5.5", "", "lines-0-vat_rate"),
    ("E", "0", "", "lines-0-exemption_code"),
    ("E", "20", "VATEX-FR-CGI261-4", "lines-0-vat_rate"),
    ("E", "0", "VATEX-EU-G", "lines-0-exemption_code"),  # another category's code
    ("AE", "0", "", "lines-0-exemption_code"),
    ("G", "10", "VATEX-EU-G", "lines-0-vat_rate"),
    ("S", "20", "VATEX-FR-AE", "lines-0-exemption_code"),  # a taxed line has no exemption
    ("K", "0", "", "lines-0-vat_category"),  # refused: see invoicing/vat.py
    ("O", "0", "", "lines-0-vat_category"),
])
def test_vat_category_rate_and_exemption_must_agree(category, rate, code, field):
    result = problems(invoice(), [line(vat_category=category, vat_rate=Decimal(rate),
                                       exemption_code=code)])
    assert field in result


@pytest.mark.parametrize("category,rate,code", [
    ("S", "20", ""), ("S", "10", ""), ("S", "5.5", ""), ("S", "2.1", ""), ("S", "8.5", ""),
    ("Z", "0", ""), ("E", "0", "VATEX-FR-CGI261-4"), ("AE", "0", "VATEX-FR-AE"),
    ("G", "0", "VATEX-EU-G"),
])
def test_coherent_vat_lines_pass(category, rate, code):
    assert problems(invoice(), [line(vat_category=category, vat_rate=Decimal(rate),
                                     exemption_code=code)]) == {}


@pytest.mark.parametrize("category", ["K", "O"])
def test_k_and_o_are_refused_with_the_way_out(category):
    message = problems(invoice(), [line(vat_category=category, vat_rate=Decimal(0))])[
        "lines-0-vat_category"][0]
    assert "Choisissez" in message and "E" in message


def test_a_franchise_asks_for_its_mention():
    lines = [line(vat_category="E", vat_rate=Decimal(0), exemption_code="VATEX-FR-FRANCHISE")]
    assert "293 B" in problems(invoice(notes="#PMT#40 €"), lines)["notes"][0]
    assert problems(invoice(notes="TVA non applicable, art. 293 B du CGI"), lines) == {}


def test_one_exemption_code_per_category_on_an_invoice():
    lines = [line(vat_category="E", vat_rate=Decimal(0), exemption_code="VATEX-FR-CGI261-4"),
             line(vat_category="E", vat_rate=Decimal(0), exemption_code="VATEX-FR-CGI261-7")]
    assert "différents" in problems(invoice(), lines)["__all__"][0]


def test_no_lines():
    assert problems(invoice(), [])["lines"] == ["Ajoutez au moins une ligne."]


def test_a_zero_total():
    assert "lines" in problems(invoice(), [line(unit_price=Decimal("0"))])


def test_a_negative_price():
    assert "lines-0-unit_price" in problems(invoice(), [line(unit_price=Decimal("-1"))])


def test_more_than_six_decimals():
    result = problems(invoice(), [line(quantity=Decimal("1.0000001"), unit_price=Decimal("2.1234567"))])
    assert {"lines-0-quantity", "lines-0-unit_price"} <= set(result)
    assert problems(invoice(), [line(quantity=Decimal("1.000001"))]) == {}


def test_the_second_lines_problem_is_keyed_by_its_position():
    result = problems(invoice(), [line(), line(description="")])
    assert list(result) == ["lines-1-description"]


def test_due_date_before_issue_date():
    result = problems(invoice(due_date=datetime.date(2025, 6, 1)))
    assert result["due_date"] == ["L'échéance ne peut précéder la date d'émission."]


def test_missing_dates():
    assert {"issue_date", "due_date"} <= set(problems(invoice(issue_date=None, due_date=None)))


def test_a_missing_iban():
    assert "iban" in problems(invoice(iban=""))


def test_an_invalid_iban():
    assert "iban" in problems(invoice(iban="FR7630006000011234567890188"))


def test_an_already_paid_invoice_needs_no_iban():
    assert problems(invoice(iban="", billing_framework=Invoice.BillingFramework.A2)) == {}


def test_a_credit_note_needs_no_iban_but_the_credited_invoice():
    note = invoice(iban="", kind=Invoice.Kind.CREDIT_NOTE)
    assert problems(note) == {"__all__": ["Un avoir doit indiquer la facture qu'il corrige."]}
    note.credited_invoice_id = 1
    assert problems(note) == {}


@pytest.mark.parametrize("number,ok", [
    ("F2026-00001", True), ("A B/C+D_E-1", True), ("12345678901234567890", True),
    ("123456789012345678901", False), ("F2026.001", False), ("FACTÜRE", False),
    (" F1", False), ("F1 ", False), ("F  1", False), ("", False),
])
def test_invoice_number_rules(number, ok):
    assert (number_problems(number) == []) is ok
    if number:  # an invoice numbered outside the sequence (an import) is checked too
        assert ("number" not in problems(invoice(number=number))) is ok
    else:  # a draft has none: it gets one from the sequence when issued
        assert "number" not in problems(invoice(number=number))

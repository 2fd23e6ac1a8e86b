"""Payload builders: each body equals the seed guide's, byte for byte in JSON types."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import simplejson
from hypothesis import given
from hypothesis import strategies as st

from b2brouter.payloads import (
    AccountData,
    BankAccount,
    ContactData,
    InvoiceData,
    InvoiceLineData,
    OrgUnitData,
    TaxData,
    account_body,
    contact_body,
    invoice_body,
    invoice_update_body,
    json_number,
    org_unit_body,
)

GUIDE_ACCOUNT = AccountData(
    name="Exemplar SAS",
    tin_value="FR46458880332",
    address="10 Rue Imaginaire",
    city="Paris",
    postalcode="75001",
    province="Île-de-France",
    email="john.doe@example.com",
)
GUIDE_CONTACT = ContactData(
    name="UNIVERSITE D AIX MARSEILLE",
    cin_value="13001533200013",
    address="58 BD CHARLES LIVON",
    city="MARSEILLE 7",
    postalcode="13007",
)
GUIDE_UNIT = OrgUnitData(
    parent_id=1313228381,
    name="Factures marché FCM ROP cadre A2",
    service_code="ESR_MISSION_FACTURES_DEPLACEMENTS",
    address="58 BD CHARLES LIVON",
    city="MARSEILLE 7",
    postalcode="13007",
)
GUIDE_LINE = InvoiceLineData(
    unit=5,
    quantity=Decimal("135"),
    price=Decimal("25.00"),  # as a model's DecimalField(decimal_places=2) holds it
    description="Cocktail Dinatoire",
    taxes=[TaxData(percent=Decimal("10.00"), category="S")],
    article_code="14",
)
GUIDE_INVOICE = InvoiceData(
    number="00002",
    date=date(2025, 6, 18),
    due_date=date(2025, 7, 18),
    contact_id=1313228399,
    bank_account=BankAccount(iban="FR76 3000 6000 0112 3456 7890 189"),
    lines=[GUIDE_LINE],
    ponumber="0123456",
    buyer_reference="ESR_MISSION_FACTURES_DEPLACEMENTS",
)


def wire(body: Any) -> str:
    """What the client puts on the wire."""
    return simplejson.dumps(body, use_decimal=True, ensure_ascii=False)


def typed(value: Any) -> Any:
    """A JSON value with each leaf tagged by its type, so that 1 != True and 9 != "0009"."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def assert_same_json(body: Any, expected: Any) -> None:
    assert typed(json.loads(wire(body))) == typed(expected)


def test_guide_copy_matches_the_guide(
    guide_from_text: dict[str, Any] | None, guide_copy: dict[str, Any]
) -> None:
    if guide_from_text is None:
        pytest.skip("the seed guide is not next to this clone")
    assert guide_from_text == guide_copy


def test_contact_body_is_the_guides(guide_bodies: dict[str, Any]) -> None:
    assert_same_json(contact_body(GUIDE_CONTACT), guide_bodies["contact"])
    assert list(contact_body(GUIDE_CONTACT)["contact"]) == list(guide_bodies["contact"]["contact"])


def test_org_unit_body_is_the_guides(guide_bodies: dict[str, Any]) -> None:
    assert_same_json(org_unit_body(GUIDE_UNIT), guide_bodies["org_unit"])


def test_invoice_body_is_the_guides(guide_bodies: dict[str, Any]) -> None:
    body = invoice_body(GUIDE_INVOICE, send_after_import=True)
    assert_same_json(body, guide_bodies["invoice"])
    text = wire(body)
    # integral Decimals are written as the guide writes them, not 25.00 / 10.00
    assert '"quantity": 135,' in text
    assert '"price": 25,' in text
    assert '"percent": 10}' in text
    assert isinstance(body["invoice"]["invoice_lines_attributes"][0]["price"], Decimal)


def test_account_body_follows_the_guide_and_the_version(guide_bodies: dict[str, Any]) -> None:
    # the guide's example writes tin_scheme as the integer 9957 (the 2025-10-13 form)...
    assert_same_json(account_body(GUIDE_ACCOUNT, api_version="2025-10-13"), guide_bodies["account"])
    # ...while from 2026-03-02 on scheme codes are 4-character strings (contract, Versions)
    expected = json.loads(json.dumps(guide_bodies["account"]))
    expected["account"]["tin_scheme"] = "9957"
    assert_same_json(account_body(GUIDE_ACCOUNT), expected)


def test_scheme_codes_are_integers_under_2025_10_13() -> None:
    assert contact_body(GUIDE_CONTACT, api_version="2025-10-13")["contact"]["cin_scheme"] == 9
    assert org_unit_body(GUIDE_UNIT, api_version="2025-10-13")["contact"]["cin1_scheme"] == 8017


def test_contact_optional_keys_only_when_given() -> None:
    bare = contact_body(GUIDE_CONTACT)["contact"]
    assert not {"tin_value", "tin_scheme", "email", "integration_code"} & set(bare)
    full = ContactData(
        name="X",
        cin_value="13001533200013",
        address="a",
        city="c",
        postalcode="p",
        tin_value="FR12345678901",
        tin_scheme="9957",
        email="ap@example.fr",
        integration_code="buyer-7",
    )
    body = contact_body(full)["contact"]
    assert body["tin_scheme"] == "9957"
    assert body["integration_code"] == "buyer-7"


def test_invoice_optional_keys_omitted_when_empty() -> None:
    data = InvoiceData(
        number="F-1",
        date=date(2026, 1, 2),
        due_date=date(2026, 2, 1),
        contact_id=7,
        bank_account=BankAccount(iban="FR7630006000011234567890189"),
        lines=[
            InvoiceLineData(
                description="a",
                quantity=Decimal("1"),
                price=Decimal("1"),
                taxes=[TaxData(Decimal(20))],
            )
        ],
    )
    invoice = invoice_body(data, send_after_import=False)["invoice"]
    for key in (
        "ponumber",
        "buyer_reference",
        "contract_reference",
        "billing_framework",
        "notes",
        "is_credit_note",
        "amended_number",
    ):
        assert key not in invoice
    line = invoice["invoice_lines_attributes"][0]
    assert "unit" not in line and "article_code" not in line
    assert line["position"] == 1
    assert line["taxes_attributes"] == [{"name": "TVA", "category": "S", "percent": 20}]


def test_invoice_credit_note_and_extras() -> None:
    lines = [
        InvoiceLineData(
            description="exempt training",
            quantity=Decimal("2.5"),
            price=Decimal("12.345"),
            taxes=[TaxData(Decimal("0"), category="E", comment="VATEX-FR-CGI261-4")],
        ),
        InvoiceLineData(
            description="b",
            quantity=Decimal(1),
            price=Decimal("-3.10"),
            taxes=[TaxData(Decimal("5.5"), "AA")],
            position=9,
        ),
    ]
    data = InvoiceData(
        number="AV-1",
        date=date(2026, 3, 1),
        due_date=date(2026, 3, 31),
        contact_id=1,
        bank_account=BankAccount(iban="fr7630006000011234567890189"),
        lines=lines,
        contract_reference="MARCHE-2026-01",
        billing_framework="A1",
        notes="merci",
        is_credit_note=True,
        amended_number="F-0009",
        amended_date=date(2026, 2, 1),
        amended_reason="prix erroné",
    )
    body = invoice_update_body(data)
    invoice = body["invoice"]
    assert set(body) == {"invoice"}
    assert invoice["bank_account"] == {"type": "iban", "iban": "FR7630006000011234567890189"}
    assert invoice["is_credit_note"] is True
    assert invoice["amended_date"] == "2026-02-01"
    assert invoice["contract_reference"] == "MARCHE-2026-01"
    first, second = invoice["invoice_lines_attributes"]
    assert first["taxes_attributes"][0]["comment"] == "VATEX-FR-CGI261-4"
    assert [first["position"], second["position"]] == [1, 9]
    text = wire(body)
    assert '"quantity": 2.5,' in text and '"price": 12.345,' in text
    assert '"price": -3.1,' in text and '"percent": 5.5}' in text


def test_ack_flag_written_only_when_given() -> None:
    assert "ack" not in invoice_body(GUIDE_INVOICE, send_after_import=False)
    assert invoice_body(GUIDE_INVOICE, send_after_import=False, ack=False)["ack"] is False


@pytest.mark.parametrize("bad", [1.5, True, "1.5", None])
def test_json_number_refuses_non_decimals(bad: Any) -> None:
    with pytest.raises(TypeError):
        json_number(bad)


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity")])
def test_json_number_refuses_non_finite(bad: Decimal) -> None:
    with pytest.raises(ValueError):
        json_number(bad)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("25"), "25"),
        (Decimal("25.00"), "25"),
        (Decimal("2500"), "2500"),
        (Decimal("2.5E+3"), "2500"),
        (Decimal("25.50"), "25.5"),
        (Decimal("12.345"), "12.345"),
        (Decimal("0.0000010"), "0.000001"),
        (Decimal("-0.10"), "-0.1"),
        (135, "135"),
    ],
)
def test_json_number_writes_like_the_guide(value: Decimal | int, text: str) -> None:
    assert wire(json_number(value)) == text


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9, places=6
    )
)
def test_decimal_round_trip_is_exact(value: Decimal) -> None:
    written = wire({"price": json_number(value)})
    read = simplejson.loads(written, use_decimal=True)["price"]
    assert read == value  # exact: no float on the way
    assert json.loads(written, parse_float=Decimal)["price"] == value  # valid JSON for any reader

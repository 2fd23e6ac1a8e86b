"""Request bodies for the B2Brouter API, built exactly as the Chorus Pro guide shows them.

Pure functions: plain dataclasses in, JSON-ready dicts out, no I/O. Amounts stay ``Decimal``
(the client writes them with ``simplejson(use_decimal=True)``); they are normalised so that an
integral amount is written ``25`` as in the guide (never ``25.00``) while others stay exact
(``25.5``, ``12.345``). Floats are refused: they cannot hold an amount exactly.

Optional keys are omitted when empty rather than sent as ``""`` or ``null``, as the guide does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

__all__ = [
    "DEFAULT_API_VERSION",
    "AccountData",
    "BankAccount",
    "ContactData",
    "InvoiceData",
    "InvoiceLineData",
    "OrgUnitData",
    "TaxData",
    "TaxReportSettingData",
    "account_body",
    "contact_body",
    "invoice_body",
    "invoice_fields",
    "invoice_update_body",
    "json_number",
    "org_unit_body",
    "tax_report_setting_body",
]

DEFAULT_API_VERSION = "2026-03-02"
# Under this version scheme codes are integers; from 2026-03-02 on, 4-char strings ("0009").
_INTEGER_SCHEME_VERSIONS = frozenset({"2025-10-13"})


@dataclass(frozen=True)
class AccountData:
    """Our company's B2Brouter account (``POST /accounts``)."""

    name: str
    tin_value: str
    address: str
    city: str
    postalcode: str
    country: str = "fr"
    tin_scheme: str = "9957"  # French VAT number
    rounding_method: str = "half_up"
    province: str = ""
    email: str = ""
    cin_value: str = ""  # SIRET
    cin_scheme: str = ""
    currency: str = ""


@dataclass(frozen=True)
class TaxReportSettingData:
    """The ``dgfip`` tax-report setting that activates an account for the French reform."""

    start_date: date
    type_operation: str  # goods / services / mixed
    naf_code: str  # 2 digits
    enterprise_size: str  # micro / pme / eti / ge
    reason_vat_exempt: str = ""
    email: str = ""
    code: str = "dgfip"


@dataclass(frozen=True)
class ContactData:
    """A buyer: a public entity addressed through Chorus Pro (the defaults, the Chorus guide's
    contact), or a French company (FR-GUIDE: transport ``peppol``, format
    ``xml.ubl.invoice.frcius.v1``, ``public_sector`` false), identified by SIRET or SIREN."""

    name: str
    cin_value: str  # SIRET
    address: str
    city: str
    postalcode: str
    country: str = "fr"
    language: str = "en"
    currency: str = "EUR"
    terms: str = "custom"
    is_client: bool = True
    is_provider: bool = True
    public_sector: bool = True
    transport_type_code: str = "fr.chorus"
    document_type_code: str = "xml.ubl.invoice.chorus"
    cin_scheme: str = "0009"  # SIRET
    tin_value: str = ""
    tin_scheme: str = ""
    email: str = ""
    integration_code: str = ""


@dataclass(frozen=True)
class OrgUnitData:
    """An organisational unit (Chorus Pro service) of a buyer: a contact under ``parent_id``."""

    parent_id: int
    name: str
    service_code: str  # cin1_value, the Chorus Pro "code service"
    address: str
    city: str
    postalcode: str
    country: str = "fr"
    cin1_scheme: str = "8017"
    integration_code: str = ""


@dataclass(frozen=True)
class TaxData:
    """One tax of a line. ``comment`` is the exemption reason (mandatory in practice for ``E``)."""

    percent: Decimal
    category: str = "S"
    name: str = "TVA"
    comment: str = ""


@dataclass(frozen=True)
class InvoiceLineData:
    """One invoice line. ``position`` defaults to the line's 1-based index."""

    description: str
    quantity: Decimal
    price: Decimal
    taxes: Sequence[TaxData]
    unit: int | None = None  # B2Brouter unit code (the guide's 5)
    article_code: str = ""
    position: int | None = None


@dataclass(frozen=True)
class BankAccount:
    """Where the buyer pays. Spaces are dropped and letters upper-cased when written."""

    iban: str
    type: str = "iban"


@dataclass(frozen=True)
class InvoiceData:
    """An issued invoice (or credit note) to a contact already created at B2Brouter."""

    number: str
    date: date
    due_date: date
    contact_id: int
    bank_account: BankAccount
    lines: Sequence[InvoiceLineData]
    currency: str = "EUR"
    terms: str = "custom"
    ponumber: str = ""  # Chorus "numéro d'engagement"
    buyer_reference: str = ""  # Chorus "code service"
    contract_reference: str = ""
    billing_framework: str = ""  # "A1" / "A2"
    notes: str = ""
    # A French company's mentions (FR-GUIDE: each required, else 422): PMD, PMT, AAB.
    remittance_information: str = ""
    payment_method_text: str = ""
    payment_terms: str = ""
    is_credit_note: bool = False
    amended_number: str = ""
    amended_date: date | None = None
    amended_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # escape hatch: merged last


def json_number(value: Decimal | int) -> Decimal | int:
    """Return ``value`` ready for ``simplejson(use_decimal=True)``, written as the guide does.

    ``Decimal("25.00")`` -> ``Decimal("25")`` (written ``25``); ``Decimal("12.3450")`` ->
    ``Decimal("12.345")``; ints pass through. Raises ``TypeError`` on float or bool and
    ``ValueError`` on NaN/Infinity.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"amounts must be Decimal or int, not {type(value).__name__}")
    if isinstance(value, int):
        return value
    if not value.is_finite():
        raise ValueError(f"amount is not finite: {value}")
    if value == value.to_integral_value():
        # quantize, not normalize: normalize() would write 2500 as 2.5E+3
        return value.quantize(Decimal(1))
    # fixed-point text then strip zeros: exact, and never an exponent
    return Decimal(format(value, "f").rstrip("0"))


def _scheme(code: str, api_version: str) -> str | int:
    """A scheme code in the form the API version expects ("0009" or 9)."""
    if api_version in _INTEGER_SCHEME_VERSIONS:
        return int(code)
    return code.zfill(4)


def _put_if(body: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only when ``value`` is not empty (the guide omits unused optional keys)."""
    if value not in ("", None):
        body[key] = value


def account_body(data: AccountData, *, api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """``{"account": {...}}`` for ``POST /accounts``, the guide's keys in the guide's order.

    ``tin_scheme``/``cin_scheme`` follow ``api_version`` (the guide's example writes
    ``"tin_scheme": 9957``, which is the 2025-10-13 form).
    """
    account: dict[str, Any] = {
        "country": data.country,
        "rounding_method": data.rounding_method,
        "tin_value": data.tin_value,
        "tin_scheme": _scheme(data.tin_scheme, api_version),
        "name": data.name,
        "address": data.address,
        "city": data.city,
        "postalcode": data.postalcode,
    }
    _put_if(account, "province", data.province)
    _put_if(account, "email", data.email)
    _put_if(account, "cin_value", data.cin_value)
    if data.cin_scheme:
        account["cin_scheme"] = _scheme(data.cin_scheme, api_version)
    _put_if(account, "currency", data.currency)
    return {"account": account}


def contact_body(data: ContactData, *, api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """``{"contact": {...}}`` for a Chorus Pro public buyer, exactly as the guide's contact."""
    contact: dict[str, Any] = {
        "language": data.language,
        "is_client": data.is_client,
        "is_provider": data.is_provider,
        "terms": data.terms,
        "public_sector": data.public_sector,
        "name": data.name,
        "address": data.address,
        "city": data.city,
        "postalcode": data.postalcode,
        "country": data.country,
        "currency": data.currency,
        "transport_type_code": data.transport_type_code,
        "document_type_code": data.document_type_code,
        "cin_value": data.cin_value,
        "cin_scheme": _scheme(data.cin_scheme, api_version),
    }
    _put_if(contact, "tin_value", data.tin_value)
    if data.tin_scheme:
        contact["tin_scheme"] = _scheme(data.tin_scheme, api_version)
    _put_if(contact, "email", data.email)
    _put_if(contact, "integration_code", data.integration_code)
    return {"contact": contact}


def tax_report_setting_body(data: TaxReportSettingData) -> dict[str, Any]:
    """``{"tax_report_setting": {...}}`` as the DGFiP guide's example."""
    setting: dict[str, Any] = {
        "code": data.code,
        "start_date": data.start_date.isoformat(),
        "type_operation": data.type_operation,
        "naf_code": data.naf_code,
        "enterprise_size": data.enterprise_size,
    }
    _put_if(setting, "reason_vat_exempt", data.reason_vat_exempt)
    _put_if(setting, "email", data.email)
    return {"tax_report_setting": setting}


def org_unit_body(data: OrgUnitData, *, api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """``{"contact": {...}}`` for an organisational unit, exactly as the guide's sub-contact."""
    contact: dict[str, Any] = {
        "parent_id": data.parent_id,
        "name": data.name,
        "address": data.address,
        "city": data.city,
        "postalcode": data.postalcode,
        "country": data.country,
        "cin1_scheme": _scheme(data.cin1_scheme, api_version),
        "cin1_value": data.service_code,
    }
    _put_if(contact, "integration_code", data.integration_code)
    return {"contact": contact}


def _tax_fields(tax: TaxData) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": tax.name,
        "category": tax.category,
        "percent": json_number(tax.percent),
    }
    _put_if(fields, "comment", tax.comment)
    return fields


def _line_fields(line: InvoiceLineData, index: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    _put_if(fields, "unit", line.unit)
    fields["quantity"] = json_number(line.quantity)
    fields["price"] = json_number(line.price)
    fields["description"] = line.description
    fields["taxes_attributes"] = [_tax_fields(t) for t in line.taxes]
    _put_if(fields, "article_code", line.article_code)
    fields["position"] = line.position if line.position is not None else index + 1
    return fields


def _bank_account_fields(account: BankAccount) -> dict[str, str]:
    return {"type": account.type, "iban": "".join(account.iban.split()).upper()}


def invoice_fields(data: InvoiceData) -> dict[str, Any]:
    """The invoice object itself (the value under ``"invoice"``), in the guide's key order."""
    invoice: dict[str, Any] = {
        "type": "IssuedInvoice",
        "contact_id": data.contact_id,
        "bank_account": _bank_account_fields(data.bank_account),
        "terms": data.terms,
        "invoice_lines_attributes": [_line_fields(line, i) for i, line in enumerate(data.lines)],
        "number": data.number,
        "date": data.date.isoformat(),
        "due_date": data.due_date.isoformat(),
        "currency": data.currency,
    }
    _put_if(invoice, "ponumber", data.ponumber)
    _put_if(invoice, "buyer_reference", data.buyer_reference)
    _put_if(invoice, "contract_reference", data.contract_reference)
    _put_if(invoice, "billing_framework", data.billing_framework)
    _put_if(invoice, "notes", data.notes)
    _put_if(invoice, "remittance_information", data.remittance_information)
    _put_if(invoice, "payment_method_text", data.payment_method_text)
    _put_if(invoice, "payment_terms", data.payment_terms)
    if data.is_credit_note:
        invoice["is_credit_note"] = True
        _put_if(invoice, "amended_number", data.amended_number)
        if data.amended_date is not None:
            invoice["amended_date"] = data.amended_date.isoformat()
        _put_if(invoice, "amended_reason", data.amended_reason)
    invoice.update(data.extra)
    return invoice


def invoice_body(
    data: InvoiceData, *, send_after_import: bool, ack: bool | None = None
) -> dict[str, Any]:
    """``{"send_after_import": ..., "invoice": {...}}`` for ``POST /accounts/{id}/invoices``.

    ``ack`` is written only when given (the guide does not send it).
    """
    body: dict[str, Any] = {"send_after_import": send_after_import}
    if ack is not None:
        body["ack"] = ack
    body["invoice"] = invoice_fields(data)
    return body


def invoice_update_body(data: InvoiceData) -> dict[str, Any]:
    """``{"invoice": {...}}`` for ``PUT /invoices/{id}`` (fixing a routing return)."""
    return {"invoice": invoice_fields(data)}

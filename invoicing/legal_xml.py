"""Reading a legal XML we did not write: any UBL 2.1 Invoice or CreditNote (EN 16931), as the
XML states it, for the reconciliation with our invoice.

Read the way the standard places each datum, not the way one generator writes it: the VAT total
in the document's currency (BT-110; a second TaxTotal in the VAT accounting currency, BT-111,
is read apart), every VAT breakdown with its category, rate (absent for O), exemption code and
text, the document totals (BT-106..115), the parties' identifiers whatever their scheme, and the
lines with their quantities. Parsed with defusedxml (no entity expansion, no external fetch).
"""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree as SafeET

UBL_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
UBL_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC, CAC = f"{{{UBL_CBC}}}", f"{{{UBL_CAC}}}"
ROOTS = {"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": "Invoice",
         "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": "CreditNote"}
SIRET_SCHEME = "0009"
CENT = Decimal("0.01")

ParseError = SafeET.ParseError


class NotUbl(ValueError):
    """The document is XML but not a UBL 2.1 Invoice or CreditNote."""


@dataclass(frozen=True)
class VatBreakdown:
    category: str
    rate: Decimal | None  # None: no rate stated (category O)
    taxable: Decimal | None
    tax: Decimal | None
    exemption_code: str = ""
    exemption_reason: str = ""

    @property
    def key(self) -> tuple[str, Decimal]:
        return self.category, (self.rate or Decimal(0)).quantize(CENT)


@dataclass(frozen=True)
class Party:
    name: str = ""
    identifiers: tuple[tuple[str, str], ...] = ()  # (scheme, value) of PartyIdentification
    legal_id: str = ""
    legal_id_scheme: str = ""
    vat_id: str = ""

    def identifier(self, scheme: str) -> str:
        for candidate, value in self.identifiers:
            if candidate == scheme:
                return value
        return self.legal_id if self.legal_id_scheme == scheme else ""


@dataclass(frozen=True)
class LegalLine:
    id: str
    quantity: Decimal | None
    unit_code: str
    net_amount: Decimal | None
    name: str
    category: str
    rate: Decimal | None


@dataclass(frozen=True)
class LegalFacts:
    kind: str  # "Invoice" or "CreditNote"
    number: str
    issue_date: str
    type_code: str
    currency: str
    tax_currency: str
    buyer_reference: str
    order_reference: str
    contract_reference: str
    seller: Party
    buyer: Party
    line_extension: Decimal | None
    tax_exclusive: Decimal | None
    tax_inclusive: Decimal | None
    allowance_total: Decimal | None
    charge_total: Decimal | None
    prepaid: Decimal | None
    rounding: Decimal | None
    payable: Decimal | None
    tax_amount: Decimal | None  # in the document's currency
    tax_amount_in_tax_currency: Decimal | None
    breakdown: list[VatBreakdown] = field(default_factory=list)
    lines: list[LegalLine] = field(default_factory=list)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == "CreditNote" or self.type_code in ("381", "261", "262", "296", "308",
                                                                 "532")


def _text(node, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path)
    return (found.text or "").strip() if found is not None else ""


def _amount(node, path: str) -> Decimal | None:
    text = _text(node, path)
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _party(node) -> Party:
    if node is None:
        return Party()
    legal = node.find(f"{CAC}PartyLegalEntity")
    legal_id = legal.find(f"{CBC}CompanyID") if legal is not None else None
    vat_id = ""
    for scheme in node.findall(f"{CAC}PartyTaxScheme"):
        if _text(scheme, f"{CAC}TaxScheme/{CBC}ID").upper() == "VAT":
            vat_id = _text(scheme, f"{CBC}CompanyID")
    name = (_text(legal, f"{CBC}RegistrationName") if legal is not None else "") or \
        _text(node, f"{CAC}PartyName/{CBC}Name")
    identifiers = tuple(((ident.get("schemeID") or ""), (ident.text or "").strip())
                        for ident in node.findall(f"{CAC}PartyIdentification/{CBC}ID"))
    return Party(name=name, identifiers=identifiers,
                 legal_id=(legal_id.text or "").strip() if legal_id is not None else "",
                 legal_id_scheme=(legal_id.get("schemeID") or "") if legal_id is not None else "",
                 vat_id=vat_id)


def _breakdown(subtotal) -> VatBreakdown:
    category = subtotal.find(f"{CAC}TaxCategory")
    return VatBreakdown(
        category=_text(category, f"{CBC}ID"),
        rate=_amount(category, f"{CBC}Percent"),
        taxable=_amount(subtotal, f"{CBC}TaxableAmount"),
        tax=_amount(subtotal, f"{CBC}TaxAmount"),
        exemption_code=_text(category, f"{CBC}TaxExemptionReasonCode"),
        exemption_reason=_text(category, f"{CBC}TaxExemptionReason"),
    )


def _line(node, kind: str) -> LegalLine:
    quantity = node.find(f"{CBC}CreditedQuantity" if kind == "CreditNote"
                         else f"{CBC}InvoicedQuantity")
    category = node.find(f"{CAC}Item/{CAC}ClassifiedTaxCategory")
    return LegalLine(
        id=_text(node, f"{CBC}ID"),
        quantity=_amount(node, f"{CBC}CreditedQuantity" if kind == "CreditNote"
                         else f"{CBC}InvoicedQuantity"),
        unit_code=(quantity.get("unitCode") or "") if quantity is not None else "",
        net_amount=_amount(node, f"{CBC}LineExtensionAmount"),
        name=_text(node, f"{CAC}Item/{CBC}Name"),
        category=_text(category, f"{CBC}ID"),
        rate=_amount(category, f"{CBC}Percent"),
    )


def read(content: bytes) -> LegalFacts:
    """The facts of a UBL Invoice or CreditNote. Raises ParseError (not XML) or NotUbl."""
    root = SafeET.fromstring(content)
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", "")
    kind = ROOTS.get(namespace)
    if kind is None or local != kind:
        raise NotUbl(f"not a UBL 2.1 Invoice or CreditNote: {root.tag}")
    currency = _text(root, f"{CBC}DocumentCurrencyCode")
    tax_currency = _text(root, f"{CBC}TaxCurrencyCode")
    tax_amount = tax_in_tax_currency = None
    breakdown: list[VatBreakdown] = []
    for total in root.findall(f"{CAC}TaxTotal"):
        amount_node = total.find(f"{CBC}TaxAmount")
        amount = _amount(total, f"{CBC}TaxAmount")
        in_currency = amount_node.get("currencyID") if amount_node is not None else None
        if tax_currency and in_currency == tax_currency and tax_currency != currency:
            tax_in_tax_currency = amount  # BT-111: the VAT in the accounting currency
            continue
        tax_amount = amount
        breakdown.extend(_breakdown(sub) for sub in total.findall(f"{CAC}TaxSubtotal"))
    totals = root.find(f"{CAC}LegalMonetaryTotal")
    line_tag = f"{CAC}CreditNoteLine" if kind == "CreditNote" else f"{CAC}InvoiceLine"
    return LegalFacts(
        kind=kind,
        number=_text(root, f"{CBC}ID"),
        issue_date=_text(root, f"{CBC}IssueDate"),
        type_code=_text(root, f"{CBC}CreditNoteTypeCode" if kind == "CreditNote"
                        else f"{CBC}InvoiceTypeCode"),
        currency=currency,
        tax_currency=tax_currency,
        buyer_reference=_text(root, f"{CBC}BuyerReference"),
        order_reference=_text(root, f"{CAC}OrderReference/{CBC}ID"),
        contract_reference=_text(root, f"{CAC}ContractDocumentReference/{CBC}ID"),
        seller=_party(root.find(f"{CAC}AccountingSupplierParty/{CAC}Party")),
        buyer=_party(root.find(f"{CAC}AccountingCustomerParty/{CAC}Party")),
        line_extension=_amount(totals, f"{CBC}LineExtensionAmount"),
        tax_exclusive=_amount(totals, f"{CBC}TaxExclusiveAmount"),
        tax_inclusive=_amount(totals, f"{CBC}TaxInclusiveAmount"),
        allowance_total=_amount(totals, f"{CBC}AllowanceTotalAmount"),
        charge_total=_amount(totals, f"{CBC}ChargeTotalAmount"),
        prepaid=_amount(totals, f"{CBC}PrepaidAmount"),
        rounding=_amount(totals, f"{CBC}PayableRoundingAmount"),
        payable=_amount(totals, f"{CBC}PayableAmount"),
        tax_amount=tax_amount,
        tax_amount_in_tax_currency=tax_in_tax_currency,
        breakdown=breakdown,
        lines=[_line(node, kind) for node in root.findall(line_tag)],
    )


def display_html(content: bytes) -> str:
    """The legal XML indented and highlighted for reading on a page (HTML with Pygments' CSS
    classes, no inline style). The archived bytes are never touched: this is a view of them.
    A document that is not well-formed, or that declares entities, is shown as it is."""
    from lxml import etree
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import XmlLexer

    text = content.decode("utf-8", errors="replace")
    try:
        SafeET.fromstring(content)  # refuses entity declarations and external references
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 remove_blank_text=True, huge_tree=False)
        root = etree.fromstring(content, parser)
        text = etree.tostring(root, pretty_print=True, encoding="unicode")
    except Exception:  # noqa: BLE001 - shown as received
        text = content.decode("utf-8", errors="replace")
    return highlight(text, XmlLexer(), HtmlFormatter(nowrap=True))

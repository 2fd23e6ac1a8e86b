"""The legal XML: a UBL 2.1 Invoice (380) or CreditNote (381) following EN 16931 and Chorus Pro.

Where the B2G data sits (chorus-domain.md §1.6): buyer SIRET in PartyIdentification (scheme 0009)
and PartyLegalEntity/CompanyID; service code in cbc:BuyerReference; commitment (PO) number in
cac:OrderReference/cbc:ID; contract in cac:ContractDocumentReference; billing framework in
cbc:ProfileID; seller SIREN in PartyLegalEntity/CompanyID (scheme 0002); IBAN in PaymentMeans.
Elements are emitted in the UBL 2.1 XSD sequence order; amounts come from `calc`, so the
EN 16931 arithmetic (BR-CO-10..17, BR-S-08) holds by construction.
"""

import base64
import xml.etree.ElementTree as ET
from decimal import Decimal

from sandbox import calc

NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
ET.register_namespace("cac", NS["cac"])
ET.register_namespace("cbc", NS["cbc"])

# B2Brouter integer unit codes -> UN/ECE Recommendation 20 codes (unknown or absent -> C62, "one").
UNIT_CODES = {1: "C62", 2: "HUR", 3: "KGM", 4: "LTR", 5: "C62", 6: "DAY", 7: "MTR", 8: "MTK",
              9: "E48", 10: "MON", 11: "ANN", 12: "KMT", 13: "TNE", 14: "MIN", 15: "WEE"}

# VAT categories of the API mapped onto the EN 16931 (UNCL5305) subset; reduced rates are S.
XML_CATEGORY = {"AA": "S", "AAA": "S"}

# EN 16931 wants an exemption reason for these categories; used when the line gives none.
DEFAULT_EXEMPTION = {
    "AE": "Autoliquidation",
    "K": "Livraison intracommunautaire exonérée, article 262 ter I du CGI",
    "G": "Exportation exonérée, article 262 I du CGI",
    "O": "Non soumis à la TVA",
}
EXEMPT_CATEGORIES = ("E", "AE", "K", "G", "O")

PROFILES = {"A1": "A1", "A2": "A2"}

# Attached documents' MIME codes, as EN 16931 allows them (BR-CL-24).
MIME_CODES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg",
              "jpeg": "image/jpeg", "csv": "text/csv",
              "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "ods": "application/vnd.oasis.opendocument.spreadsheet"}


def unit_code(unit):
    """The UN/ECE code for an API unit (an integer code, or already a UN/ECE code)."""
    if isinstance(unit, str) and not unit.isdigit():
        return unit
    return UNIT_CODES.get(int(unit), "C62") if unit not in (None, "") else "C62"


def _num(value):
    return format(Decimal(value), "f")


def _el(parent, tag, text=None, **attrs):
    prefix, name = tag.split(":")
    node = ET.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if text is not None:
        node.text = str(text)
    return node


def _amount(parent, tag, value, currency):
    return _el(parent, tag, _num(calc.round2(value)), currencyID=currency)


def _address(party, who):
    address = _el(party, "cac:PostalAddress")
    if who.get("address"):
        _el(address, "cbc:StreetName", who["address"])
    if who.get("city"):
        _el(address, "cbc:CityName", who["city"])
    if who.get("postalcode"):
        _el(address, "cbc:PostalZone", who["postalcode"])
    if who.get("province"):
        _el(address, "cbc:CountrySubentity", who["province"])
    country = _el(address, "cac:Country")
    _el(country, "cbc:IdentificationCode", (who.get("country") or "fr").upper())


def _tax_scheme(parent):
    _el(_el(parent, "cac:TaxScheme"), "cbc:ID", "VAT")


def seller_siren(account):
    """The seller's SIREN: from its SIRET/SIREN, else from a French VAT number; None if unknown."""
    cin = account.get("cin_value") or ""
    if account.get("cin_scheme") in ("0009", "0002") and len(cin) >= 9:
        return cin[:9]
    tin = (account.get("tin_value") or "").replace(" ", "")
    if tin.upper().startswith("FR") and len(tin) == 13:
        return tin[4:]
    return None


def _supplier(root, account, reform=False):
    party = _el(_el(root, "cac:AccountingSupplierParty"), "cac:Party")
    if reform and seller_siren(account):
        # BT-34: the seller's electronic address in the Annuaire (scheme 0225, its SIREN).
        _el(party, "cbc:EndpointID", seller_siren(account), schemeID="0225")
    if account.get("cin_value") and account.get("cin_scheme") == "0009":
        _el(_el(party, "cac:PartyIdentification"), "cbc:ID", account["cin_value"], schemeID="0009")
    _el(_el(party, "cac:PartyName"), "cbc:Name", account["name"])
    _address(party, account)
    if account.get("tin_value"):
        tax = _el(party, "cac:PartyTaxScheme")
        _el(tax, "cbc:CompanyID", account["tin_value"])
        _tax_scheme(tax)
    legal = _el(party, "cac:PartyLegalEntity")
    _el(legal, "cbc:RegistrationName", account["name"])
    siren = seller_siren(account)
    if siren:
        _el(legal, "cbc:CompanyID", siren, schemeID="0002")
    if account.get("email"):
        _el(_el(party, "cac:Contact"), "cbc:ElectronicMail", account["email"])


def _customer(root, buyer):
    party = _el(_el(root, "cac:AccountingCustomerParty"), "cac:Party")
    siret = buyer.get("cin_value")
    scheme = "0002" if buyer.get("cin_scheme") == "0002" else "0009"
    reform = bool(buyer.get("_process")) and bool(buyer.get("_reform"))
    if reform and siret:
        # BT-49: the buyer's electronic address (scheme 0225, starting with its SIREN: BR-FR-21).
        _el(party, "cbc:EndpointID", siret[:9], schemeID="0225")
    if siret:
        _el(_el(party, "cac:PartyIdentification"), "cbc:ID", siret, schemeID=scheme)
    _el(_el(party, "cac:PartyName"), "cbc:Name", buyer["name"])
    _address(party, buyer)
    if buyer.get("tin_value"):
        tax = _el(party, "cac:PartyTaxScheme")
        _el(tax, "cbc:CompanyID", buyer["tin_value"])
        _tax_scheme(tax)
    legal = _el(party, "cac:PartyLegalEntity")
    _el(legal, "cbc:RegistrationName", buyer["name"])
    if siret and reform:
        _el(legal, "cbc:CompanyID", siret[:9], schemeID="0002")  # BT-47, the SIREN (BR-FR-11)
    elif siret:
        _el(legal, "cbc:CompanyID", siret, schemeID=scheme)


def _tax_category(parent, tag, category, percent, reason=None):
    node = _el(parent, tag)
    _el(node, "cbc:ID", XML_CATEGORY.get(category, category))
    _el(node, "cbc:Percent", _num(percent))
    if reason and reason.upper().startswith("VATEX-"):  # a code of the CEF VATEX list (BT-121)
        _el(node, "cbc:TaxExemptionReasonCode", reason.upper())
    elif reason:  # a text (BT-120)
        _el(node, "cbc:TaxExemptionReason", reason)
    _tax_scheme(node)


def exemption_reason(category, comment):
    """The exemption reason written for a VAT group, or None for taxed categories."""
    if category not in EXEMPT_CATEGORIES:
        return None
    return comment or DEFAULT_EXEMPTION.get(category)


def _tax_total(root, invoice, currency):
    total = _el(root, "cac:TaxTotal")
    _amount(total, "cbc:TaxAmount", invoice["tax_amount"], currency)
    for group in invoice["taxes"]:
        sub = _el(total, "cac:TaxSubtotal")
        _amount(sub, "cbc:TaxableAmount", group["base"], currency)
        _amount(sub, "cbc:TaxAmount", group["amount"], currency)
        reason = exemption_reason(group["category"], group.get("comment"))
        _tax_category(sub, "cac:TaxCategory", group["category"], group["percent"], reason)


def _monetary_total(root, invoice, currency):
    total = _el(root, "cac:LegalMonetaryTotal")
    _amount(total, "cbc:LineExtensionAmount", invoice["subtotal"], currency)
    _amount(total, "cbc:TaxExclusiveAmount", invoice["subtotal"], currency)
    _amount(total, "cbc:TaxInclusiveAmount", invoice["total"], currency)
    prepaid = invoice["total"] - invoice["payable_amount"]
    if prepaid:
        _amount(total, "cbc:PrepaidAmount", prepaid, currency)
    _amount(total, "cbc:PayableAmount", invoice["payable_amount"], currency)


def _line(root, line, index, credit, currency):
    node = _el(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    _el(node, "cbc:ID", line.get("position") or index)
    quantity_tag = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    _el(node, quantity_tag, _num(line["quantity"]), unitCode=unit_code(line.get("unit")))
    _amount(node, "cbc:LineExtensionAmount", line["total_cost"], currency)
    item = _el(node, "cac:Item")
    _el(item, "cbc:Name", line["description"])
    if line.get("article_code"):
        _el(_el(item, "cac:SellersItemIdentification"), "cbc:ID", line["article_code"])
    for tax in line["taxes"]:
        _tax_category(item, "cac:ClassifiedTaxCategory", tax["category"], tax["percent"])
    price = _el(node, "cac:Price")
    _el(price, "cbc:PriceAmount", _num(line["price"]), currencyID=currency)


# The French mentions B2Brouter takes as fields (FR-GUIDE), written as BR-FR-05 reads them.
REFORM_NOTES = (("PMD", "remittance_information"), ("PMT", "payment_method_text"),
                ("AAB", "payment_terms"))


def _reform_notes(invoice):
    """A French company's invoice: one note per mention field, the other notes as they are (a
    mention the client also wrote in `notes` is not written twice), and the BAR note."""
    notes = [f"#{code}#{invoice[field]}" for code, field in REFORM_NOTES if invoice.get(field)]
    taken = {code for code, field in REFORM_NOTES if invoice.get(field)} | {"BAR"}
    for text in (invoice.get("notes"), invoice.get("extra_info")):
        for line in (text or "").splitlines():
            code = line[1:4] if len(line) > 4 and line[0] == "#" and line[4] == "#" else ""
            if line.strip() and code not in taken:
                notes.append(line)
    notes.append("#BAR#B2B")
    return notes


def _header(root, invoice, credit, process=None):
    _el(root, "cbc:CustomizationID", "urn:cen.eu:en16931:2017")
    _el(root, "cbc:ProfileID", process or PROFILES.get(invoice.get("billing_framework"), "A1"))
    _el(root, "cbc:ID", invoice["number"])
    _el(root, "cbc:IssueDate", invoice["date"])
    if not credit:
        _el(root, "cbc:DueDate", invoice["due_date"])
    _el(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode", 381 if credit else 380)
    if process:
        for note in _reform_notes(invoice):
            _el(root, "cbc:Note", note)
    else:
        for note in (invoice.get("notes"), invoice.get("extra_info")):
            if note:
                _el(root, "cbc:Note", note)
    _el(root, "cbc:DocumentCurrencyCode", invoice["currency"])
    if invoice.get("buyer_reference"):
        _el(root, "cbc:BuyerReference", invoice["buyer_reference"])


def _additional_documents(root, attachments, reform=False):
    """Each supporting document (BG-24): its name (BT-122), embedded with its MIME code and file
    name (BT-125); the supplier's own PDF of the invoice is described as such."""
    for attachment in attachments:
        name = attachment["filename"]
        ref = _el(root, "cac:AdditionalDocumentReference")
        _el(ref, "cbc:ID", name)
        if reform:  # BR-FR-17/18: the code list's LISIBLE (one at most) and PJA
            description = "LISIBLE" if attachment.get("kind") == "pdf_view" else "PJA"
        else:
            description = ("Facture (PDF)" if attachment.get("kind") == "pdf_view"
                           else "Pièce justificative")
        _el(ref, "cbc:DocumentDescription", description)
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        mime = MIME_CODES.get(extension, "application/pdf")
        _el(_el(ref, "cac:Attachment"), "cbc:EmbeddedDocumentBinaryObject",
            base64.b64encode(bytes(attachment["content"])).decode("ascii"),
            mimeCode=mime, filename=name)


def _references(root, invoice, attachments=(), reform=False):
    if invoice.get("ponumber"):
        order = _el(root, "cac:OrderReference")
        _el(order, "cbc:ID", invoice["ponumber"])
    if invoice.get("amended_number"):
        billing = _el(root, "cac:BillingReference")
        ref = _el(billing, "cac:InvoiceDocumentReference")
        _el(ref, "cbc:ID", invoice["amended_number"])
        if invoice.get("amended_date"):
            _el(ref, "cbc:IssueDate", invoice["amended_date"])
    if invoice.get("contract_reference"):
        _el(_el(root, "cac:ContractDocumentReference"), "cbc:ID", invoice["contract_reference"])
    _additional_documents(root, attachments, reform)


def _payment(root, invoice, credit):
    iban = (invoice.get("bank_account") or {}).get("iban")
    if iban:
        means = _el(root, "cac:PaymentMeans")
        _el(means, "cbc:PaymentMeansCode", "30")
        if credit:
            _el(means, "cbc:PaymentDueDate", invoice["due_date"])
        _el(_el(means, "cac:PayeeFinancialAccount"), "cbc:ID", iban)
    if invoice.get("payment_terms"):
        _el(_el(root, "cac:PaymentTerms"), "cbc:Note", invoice["payment_terms"])


def build(invoice, account, buyer, attachments=()):
    """UTF-8 bytes of the UBL document for a stored invoice (with its lines).

    `account` is the seller (the account), `buyer` the invoiced entity (for an organisational
    unit: its parent's identity, see contacts.effective); `attachments` the supporting documents
    (dicts with filename, content, kind), embedded.
    """
    credit = bool(invoice.get("is_credit_note"))
    # The document namespace is declared by hand as the default one: ElementTree's
    # default_namespace option refuses the unqualified attributes (currencyID, schemeID).
    root = ET.Element(
        "CreditNote" if credit else "Invoice", xmlns=NS["cn" if credit else "inv"]
    )
    currency = invoice["currency"]
    process = buyer.get("_process") if buyer.get("_reform") else None
    _header(root, invoice, credit, process)
    _references(root, invoice, attachments, reform=bool(process))
    _supplier(root, account, reform=bool(process))
    _customer(root, buyer)
    _payment(root, invoice, credit)
    _tax_total(root, invoice, currency)
    _monetary_total(root, invoice, currency)
    for index, line in enumerate(invoice["lines"], start=1):
        _line(root, line, index, credit, currency)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)

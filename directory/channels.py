"""The two kinds of buyer, each in one place: a public buyer, invoiced through Chorus Pro (the
Chorus guide's contact: SIRET, transport `fr.chorus`), and a French company, invoiced through
B2Brouter as Plateforme Agréée (the DGFiP guide's contact: SIRET or SIREN, VAT number under
9957, transport `peppol`, format `xml.ubl.invoice.frcius.v1`). What a directory entry says of
the kind, and what the contact sent to B2Brouter holds, are decided here."""

from b2brouter import payloads
from directory.models import (
    CHORUS_DOCUMENT_TYPE,
    CHORUS_TRANSPORT,
    COMPANY_DOCUMENT_TYPE,
    COMPANY_TRANSPORT,
    Annuaire,
    Buyer,
)


def entry_is_public(entry: dict) -> bool:
    """Whether a directory entry is a public entity: the transport it gives for invoices
    (documented: `fr.chorus` is Chorus Pro's) decides; else its `public_sector` flag when the
    entry has one; else public (the directory this product started with is Chorus Pro's)."""
    invoice = entry.get("Invoice") if isinstance(entry.get("Invoice"), dict) else {}
    transport = invoice.get("transport_type_code")
    if transport:
        return transport == CHORUS_TRANSPORT
    flag = entry.get("public_sector")
    return flag if isinstance(flag, bool) else True


def contact_codes(entry: dict, *, public: bool) -> dict:
    """The transport and format of the buyer's contact: the entry's, else the guide's."""
    invoice = entry.get("Invoice") if isinstance(entry.get("Invoice"), dict) else {}
    transport = CHORUS_TRANSPORT if public else COMPANY_TRANSPORT
    document = CHORUS_DOCUMENT_TYPE if public else COMPANY_DOCUMENT_TYPE
    return {"transport_type_code": invoice.get("transport_type_code") or transport,
            "document_type_code": invoice.get("document_type_code") or document}


def contact_identity(buyer: Buyer) -> tuple[str, str]:
    """(scheme, value) the buyer's contact is identified by: a SIRET (0009), or the SIREN
    (0002) of a company added by its SIREN."""
    if buyer.public_sector or not buyer.by_siren:
        return "0009", buyer.siret
    return "0002", buyer.siren


def contact_data(buyer: Buyer) -> payloads.ContactData:
    scheme, value = contact_identity(buyer)
    vat = buyer.vat_number.upper().startswith("FR")
    if buyer.public_sector:
        return payloads.ContactData(
            name=buyer.name, address=buyer.address, city=buyer.city,
            postalcode=buyer.postalcode, country=buyer.country, public_sector=True,
            cin_value=value, cin_scheme=scheme, tin_value=buyer.vat_number,
            tin_scheme="9957" if vat else "",
            transport_type_code=buyer.transport_type_code or CHORUS_TRANSPORT,
            document_type_code=buyer.document_type_code or CHORUS_DOCUMENT_TYPE,
            integration_code=buyer.integration_code)
    return payloads.ContactData(
        name=buyer.name, address=buyer.address, city=buyer.city, postalcode=buyer.postalcode,
        country="fr", language="fr", public_sector=False, cin_value=value, cin_scheme=scheme,
        tin_value=buyer.vat_number, tin_scheme="9957" if vat else "",
        transport_type_code=COMPANY_TRANSPORT, document_type_code=COMPANY_DOCUMENT_TYPE,
        integration_code=buyer.integration_code)


def annuaire_from(contact: dict) -> str | None:
    """Where B2Brouter says the company stands in the directory (`in_dgfip_annuaire`: true,
    false, or null while it checks); None when the answer does not say (not a French company
    contact, or an API without the field)."""
    if "in_dgfip_annuaire" not in contact:
        return None
    value = contact["in_dgfip_annuaire"]
    if value is True:
        return Annuaire.REGISTERED
    if value is False:
        return Annuaire.NOT_REGISTERED
    return Annuaire.PENDING

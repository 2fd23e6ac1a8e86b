"""Accounts and contacts as the invoice logic sees them: the invoiced entity of a contact."""

from sandbox import directory_data
from sandbox.common import blank

RESERVED_SERVICE = directory_data.FACTURES_PUBLIQUES


def effective_contact(db, contact):
    """The contact as invoiced: an organisational unit (with `parent_id`) takes its parent's
    identity (SIRET, VAT, public-sector and transport flags) wherever it gives none itself.

    The unit's own name is its service's name, so the parent's name is the party name.
    """
    parent = db.contact(contact["parent_id"]) if contact.get("parent_id") else None
    if parent is None:
        return dict(contact)
    merged = dict(parent)
    for key in ("public_sector", "transport_type_code", "document_type_code", "cin1_scheme",
                "cin1_value", "email"):
        if contact.get(key) not in (None, ""):
            merged[key] = contact[key]
    merged["unit_name"] = contact["name"]
    return merged


def is_chorus(contact):
    """True when invoices to this (effective) contact go to Chorus Pro."""
    return bool(contact.get("public_sector")) and contact.get("transport_type_code") == "fr.chorus"


def chorus_entry(contact):
    """The directory entry of a Chorus contact's entity, or None when the SIRET is not listed."""
    if not is_chorus(contact) or contact.get("cin_scheme") not in (None, "0009"):
        return None
    return directory_data.lookup(contact.get("cin_value") or "")


# -- Chorus routing --------------------------------------------------------------------------
def chorus_rules(entry, data, errors):
    """Apply the buyer entity's Chorus Pro directory flags to buyer_reference and ponumber."""
    flags = entry["chorus"]
    code, ponumber = data.get("buyer_reference"), data.get("ponumber")
    services = {s["code"]: s for s in flags["services"]}
    service = services.get(code) if not blank(code) else None
    if code == RESERVED_SERVICE:
        errors.add("buyer_reference", "parameter_inclusion",
                   f"{RESERVED_SERVICE} is reserved for invoices between public entities")
    elif not blank(code) and (service is None or not service["active"]):
        errors.add("buyer_reference", "parameter_inclusion",
                   f"Le code service {code} est inconnu ou inactif pour cette structure")
    if flags["service_code_required"] and blank(code):
        errors.add("buyer_reference", "chorus_routing",
                   "Le code service est obligatoire pour cette structure (cbc:BuyerReference)")
    engagement = flags["engagement_required"] or bool(service and service["engagement_required"])
    if engagement and blank(ponumber):
        errors.add("ponumber", "chorus_routing",
                   "Le numéro d'engagement est obligatoire pour cette structure "
                   "(cac:OrderReference/cbc:ID)")
    if flags["service_code_or_engagement_required"] and blank(code) and blank(ponumber):
        errors.add("buyer_reference", "chorus_routing",
                   "Le code service ou le numéro d'engagement est obligatoire pour cette structure "
                   "(cbc:BuyerReference ou cac:OrderReference/cbc:ID)")

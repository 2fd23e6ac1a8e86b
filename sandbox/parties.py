"""Accounts and contacts as the invoice logic sees them: the invoiced entity of a contact."""

from sandbox import directory_data


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

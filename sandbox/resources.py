"""Accounts, contacts and the directory: handlers of the API's non-invoice resources.

Handlers take a `Request` (see server.py) and return (status, payload); they raise ApiError.
"""

import time

from stdnum.fr import siren, siret

from sandbox import dgfip, directory_data
from sandbox.common import blank, listing, page, root_object, scheme, to_int, truthy
from sandbox.errors import ApiError, FieldErrors, not_found
from sandbox.jsonutil import now_iso

ACCOUNT_FIELDS = ("name", "tin_value", "tin_scheme", "cin_value", "cin_scheme", "address",
                  "city", "postalcode", "province", "country", "currency", "email",
                  "rounding_method")
CONTACT_FIELDS = ("name", "language", "is_client", "is_provider", "terms", "public_sector",
                  "address", "city", "postalcode", "province", "country", "currency", "email",
                  "phone", "transport_type_code", "document_type_code", "cin_value", "cin_scheme",
                  "tin_value", "tin_scheme", "cin1_value", "cin1_scheme", "integration_code",
                  "payment_method", "parent_id")
CONTACT_DEFAULTS = {"language": "en", "is_client": True, "is_provider": True, "currency": "EUR",
                    "public_sector": False}
# What an organisational unit takes from its parent when it does not say.
INHERITED = ("tin_value", "tin_scheme", "public_sector", "transport_type_code",
             "document_type_code", "country", "currency")
SCHEME_FIELDS = ("tin_scheme", "cin_scheme", "cin1_scheme")
RESERVED_SERVICE = directory_data.FACTURES_PUBLIQUES


def _check_schemes(data, errors):
    for field in SCHEME_FIELDS:
        if not blank(data.get(field)):
            try:
                data[field] = scheme(data[field])
            except ValueError:
                errors.add(field, "parameter_inclusion", f"{field} is not a known scheme")


def _check_cin(data, errors):
    """SIRET (0009) and SIREN (0002) values must pass their checksum."""
    value = data.get("cin_value")
    if blank(value):
        return
    data["cin_value"] = value = str(value).replace(" ", "")
    if data.get("cin_scheme") == "0009" and not siret.is_valid(value):
        errors.add("cin_value", "parameter_invalid", f"cin_value {value} is not a valid SIRET")
    if data.get("cin_scheme") == "0002" and not siren.is_valid(value):
        errors.add("cin_value", "parameter_invalid", f"cin_value {value} is not a valid SIREN")


# -- accounts ------------------------------------------------------------------------------------
def account_or_404(db, ident):
    account = db.account(to_int(ident, "account"))
    if account is None:
        raise not_found("account", ident)
    return account


def list_accounts(req):
    offset, limit = page(req.query)
    with req.app.store.tx() as db:
        accounts = db.accounts()
    return 200, listing("accounts", accounts[offset:offset + limit], len(accounts), offset, limit)


def create_account(req):
    data = {k: v for k, v in root_object(req.body, "account").items() if k in ACCOUNT_FIELDS}
    errors = FieldErrors()
    for field, label in (("name", "Name"), ("country", "Country"), ("tin_value", "Tin value")):
        if blank(data.get(field)):
            errors.blank(field, label)
    _check_schemes(data, errors)
    _check_cin(data, errors)
    if data.get("rounding_method", "half_up") != "half_up":
        errors.add("rounding_method", "parameter_inclusion", "Only half_up rounding is supported")
    errors.raise_if_any()
    stamp = now_iso()
    with req.app.store.tx() as db:
        account = {field: data.get(field) for field in ACCOUNT_FIELDS}
        account.update(
            id=db.new_id(), country=data["country"].lower(), currency=data.get("currency") or "EUR",
            rounding_method="half_up", archived=False, created_at=stamp, updated_at=stamp,
        )
        db.put_account(account)
    return 201, {"account": account}


def show_account(req):
    with req.app.store.tx() as db:
        return 200, {"account": account_or_404(db, req.params["id"])}


# -- directory -----------------------------------------------------------------------------------
def directory_lookup(req):
    country, code, ident = (req.params[k] for k in ("country", "scheme", "ident"))
    if code == "0009" and not siret.is_valid(ident):
        raise ApiError(422, "parameter_invalid", f"{ident} is not a valid SIRET", "id")
    if code == "0002" and not siren.is_valid(ident):
        raise ApiError(422, "parameter_invalid", f"{ident} is not a valid SIREN", "id")
    entry = None
    if (country.lower(), code) == ("fr", "0009"):
        entry = directory_data.lookup(ident) or directory_data.company(ident)
    elif (country.lower(), code) == ("fr", "0002"):
        entry = directory_data.company(ident)
    if entry is None:
        raise ApiError(404, "resource_missing",
                       f"No entry found in the directory for {country}/{code}/{ident}")
    if req.app.settings.documented_only:
        return 200, {k: v for k, v in entry.items() if k in DOCUMENTED_ENTRY_FIELDS}
    return 200, entry


# The directory entry as documented: the entity's basic details and, per document kind, the
# transport and document type codes. No Chorus Pro flags, no services (DEV-DIR).
DOCUMENTED_ENTRY_FIELDS = ("name", "country", "cin_scheme", "cin_value", "tin_scheme",
                           "tin_value", "address", "city", "postalcode", "Invoice")


# -- contacts ------------------------------------------------------------------------------------
def contact_or_404(db, ident):
    contact = db.contact(to_int(ident, "contact"))
    if contact is None:
        raise not_found("contact", ident)
    return contact


def _validate_contact(db, account_id, data, errors):
    """Check a complete contact (after defaults and inheritance); errors are collected."""
    if blank(data.get("name")):
        errors.blank("name", "Name")
    _check_schemes(data, errors)
    _check_cin(data, errors)
    parent_id = data.get("parent_id")
    if parent_id is None:
        if blank(data.get("tin_value")) and blank(data.get("cin_value")):
            errors.add("tin_value", "parameter_blank", "Contact tin_value or cin_value can't be blank")
        return
    parent = db.contact(parent_id) if isinstance(parent_id, int) else None
    if parent is None or parent["account_id"] != account_id or parent.get("parent_id"):
        errors.add("parent_id", "parameter_inclusion", "Parent contact is not a contact of this account")
    if data.get("cin1_value") == RESERVED_SERVICE:
        errors.add("cin1_value", "parameter_inclusion",
                   f"{RESERVED_SERVICE} is reserved for invoices between public entities")


def _normalise_parent(data):
    """parent_id given as a digit string is read as the integer id."""
    if isinstance(data.get("parent_id"), str) and data["parent_id"].strip().isdigit():
        data["parent_id"] = int(data["parent_id"])


def _inherit(db, data):
    """Fill an organisational unit's blank identity fields from its parent; 422 on a mismatch."""
    parent = db.contact(data["parent_id"]) if isinstance(data.get("parent_id"), int) else None
    if parent is None:
        return
    for field in INHERITED:
        if blank(data.get(field)):
            data[field] = parent.get(field)
        elif field in ("tin_value", "tin_scheme") and data[field] != parent.get(field):
            raise ApiError(422, "parameter_invalid",
                           f"{field} must match the parent contact's", field)


def create_contact(req):
    data = {k: v for k, v in root_object(req.body, "contact").items() if k in CONTACT_FIELDS}
    with req.app.store.tx() as db:
        account = account_or_404(db, req.params["id"])
        contact = {k: v for k, v in data.items() if v is not None}
        errors = FieldErrors()
        _normalise_parent(contact)
        _check_schemes(contact, errors)  # before inheritance compares schemes
        _inherit(db, contact)  # before the defaults, so that a unit takes its parent's flags
        contact = {**CONTACT_DEFAULTS, **{k: v for k, v in contact.items() if v is not None}}
        _validate_contact(db, account["id"], contact, errors)
        errors.raise_if_any()
        stamp = now_iso()
        contact = {**{f: None for f in CONTACT_FIELDS}, **contact}
        contact.update(id=db.new_id(), account_id=account["id"], created_at=stamp, updated_at=stamp,
                       _created=time.time())
        db.put_contact(contact)
        shown = dgfip.shown_contact(req.app, db, contact)
    return 201, {"contact": shown}


def show_contact(req):
    with req.app.store.tx() as db:
        return 200, {"contact": dgfip.shown_contact(req.app, db,
                                                    contact_or_404(db, req.params["id"]))}


def update_contact(req):
    data = {k: v for k, v in root_object(req.body, "contact").items() if k in CONTACT_FIELDS}
    with req.app.store.tx() as db:
        contact = {**contact_or_404(db, req.params["id"]), **data}
        errors = FieldErrors()
        _normalise_parent(contact)
        _validate_contact(db, contact["account_id"], contact, errors)
        errors.raise_if_any()
        contact["updated_at"] = now_iso()
        db.put_contact(contact)
        shown = dgfip.shown_contact(req.app, db, contact)
    return 200, {"contact": shown}


def delete_contact(req):
    with req.app.store.tx() as db:
        contact = contact_or_404(db, req.params["id"])
        db.delete_contact(contact["id"])
    return 200, {"contact": {k: v for k, v in contact.items() if not k.startswith("_")}}


def _matches(contact, query, documented_only=False):
    """The list's filters. Documented (PHP SDK): `name` (a substring of the name, address or VAT
    code), `is_client`, `is_provider`, `integration_code` (exact). The sandbox adds exact
    `cin_value`, `cin1_value` and `parent_id`, ignored in documented-only mode."""
    name = (query.get("name") or "").lower()
    if name and not any(name in str(contact.get(f) or "").lower()
                        for f in ("name", "address", "tin_value")):
        return False
    for flag in ("is_client", "is_provider"):
        wanted = truthy(query.get(flag, ""))
        if wanted is not None and bool(contact.get(flag)) != wanted:
            return False
    fields = ("integration_code",) if documented_only else (
        "cin_value", "cin1_value", "integration_code", "parent_id")
    return all(not query.get(field) or str(contact.get(field)) == query[field] for field in fields)


def list_contacts(req):
    offset, limit = page(req.query)
    documented = req.app.settings.documented_only
    with req.app.store.tx() as db:
        account = account_or_404(db, req.params["id"])
        query = {} if req.app.faults.ignore_filters else req.query
        contacts = [dgfip.shown_contact(req.app, db, c) for c in db.contacts(account["id"])
                    if _matches(c, query, documented)]
    return 200, listing("contacts", contacts[offset:offset + limit], len(contacts), offset, limit)

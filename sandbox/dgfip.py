"""The French reform as B2Brouter documents it (FR-GUIDE, docs/b2brouter-contract.md "French
companies"): the `dgfip` tax-report setting that activates an account, the Annuaire check of
French company contacts, what a French B2B invoice must carry, and the Flux 1 tax reports that
follow an invoice to the tax administration (read-only, with `tax_report.state_change` webhooks
on their terminal states).

Sandbox knobs (`POST /_sandbox/dgfip`, never in the API): `annuaire_down` (the activation fails
and is rolled back), `refuse_reports` (the next N tax reports are refused by the DGFiP),
`annuaire_delay` (seconds before a new contact's Annuaire check completes).
"""

import datetime as dt
import time

from sandbox import directory_data, webhooks
from sandbox.common import blank, listing, page, root_object, to_int
from sandbox.errors import ApiError, FieldErrors, not_found
from sandbox.jsonutil import dumps, now_iso

MIN_VERSION = "2026-03-02"
CODE = "dgfip"
TYPE_OPERATIONS = ("goods", "services", "mixed")
SIZES = ("micro", "pme", "eti", "ge")
SETTING_FIELDS = ("code", "start_date", "type_operation", "naf_code", "enterprise_size",
                  "reason_vat_exempt", "email", "auto_send", "enabled")
PUBLIC_SIREN = ("La création d'une ligne annuaire n'est pas possible pour une entité associée "
                "à un SIREN 'Public'")
# FR-GUIDE: "Remittance information is required for DGFiP reporting", one per absent field.
REQUIRED_FIELDS = (("remittance_information", "Remittance information"),
                   ("payment_method_text", "Payment method text"),
                   ("payment_terms", "Payment terms"))
TERMINAL = ("registered", "refused", "error")
PROCESS_LETTER = {"goods": "B", "services": "S", "mixed": "M"}


def _gate(req):
    if (req.version or "") < MIN_VERSION:
        raise ApiError(404, "resource_missing",
                       f"Tax report settings need X-B2B-API-Version {MIN_VERSION} or later")


def knobs(db):
    return db.meta("dgfip", {"annuaire_down": False, "refuse_reports": 0, "annuaire_delay": 0.5})


def setting(db, account_id):
    """The account's enabled dgfip setting, or None."""
    found = db.meta(f"tax_report_setting:{account_id}:{CODE}")
    return found if found and found.get("enabled", True) else None


def _account(db, ident):
    account = db.account(to_int(ident, "account"))
    if account is None:
        raise not_found("account", ident)
    return account


def _siren(account):
    return str(account.get("cin_value") or "")[:9]


def _clean_setting(data, current=None):
    errors = FieldErrors()
    merged = {**(current or {}), **{k: v for k, v in data.items() if k in SETTING_FIELDS}}
    if merged.get("code") != CODE:
        errors.add("code", "parameter_inclusion", "Code is not a known tax report setting")
    today = dt.date.today()
    start = merged.get("start_date")
    if blank(start):
        merged["start_date"] = (today + dt.timedelta(days=1)).isoformat()
    else:
        try:
            day = dt.date.fromisoformat(str(start))
        except ValueError:
            errors.add("start_date", "parameter_invalid", "Start date is not a date")
        else:
            if current is None and day < today:
                errors.add("start_date", "parameter_invalid", "Start date must be today or later")
    if merged.get("type_operation") not in TYPE_OPERATIONS:
        errors.add("type_operation", "parameter_inclusion",
                   "Type operation must be services, goods or mixed")
    naf = str(merged.get("naf_code") or "")
    if not (len(naf) == 2 and naf.isdigit()):
        errors.add("naf_code", "parameter_invalid", "Naf code must be a 2-digit NAF code")
    if merged.get("enterprise_size") not in SIZES:
        errors.add("enterprise_size", "parameter_inclusion",
                   "Enterprise size must be micro, pme, eti or ge")
    if blank(merged.get("reason_vat_exempt")) and current is None:
        merged["reason_vat_exempt"] = "VATEX-FR-FRANCHISE"
    errors.raise_if_any()
    merged.setdefault("auto_send", True)
    merged.setdefault("enabled", True)
    return merged


def create_setting(req):
    _gate(req)
    data = root_object(req.body, "tax_report_setting")
    with req.app.store.tx() as db:
        account = _account(db, req.params["id"])
        key = f"tax_report_setting:{account['id']}:{data.get('code')}"
        if db.meta(key):
            raise ApiError(422, "parameter_taken", "Code has already been taken", "code")
        clean = _clean_setting(data)
        if clean["enabled"]:
            if directory_data.is_public_siren(_siren(account)):
                raise ApiError(422, "annuaire_error", PUBLIC_SIREN, "base")
            if knobs(db)["annuaire_down"]:
                raise ApiError(422, "annuaire_error",
                               "Annuaire registration failed: the DGFiP service is unavailable, "
                               "retry later", "base")
        stamp = now_iso()
        clean.update(auto_generate=True, locked=False, created_at=stamp, updated_at=stamp)
        db.set_meta(key, clean)
        if blank(account.get("tin_value")) and _siren(account):
            from stdnum.fr import siren
            account["tin_value"] = "FR" + siren.to_tva(_siren(account))
            db.put_account(account)
    return 201, {"tax_report_setting": clean}


def _stored(db, req):
    account = _account(db, req.params["id"])
    key = f"tax_report_setting:{account['id']}:{req.params['code']}"
    found = db.meta(key)
    if not found:
        raise not_found("tax_report_setting", req.params["code"])
    return key, found


def show_setting(req):
    _gate(req)
    with req.app.store.tx() as db:
        return 200, {"tax_report_setting": _stored(db, req)[1]}


def list_settings(req):
    _gate(req)
    with req.app.store.tx() as db:
        account = _account(db, req.params["id"])
        found = db.meta(f"tax_report_setting:{account['id']}:{CODE}")
    return 200, {"tax_report_settings": [found] if found else []}


def update_setting(req):
    _gate(req)
    data = root_object(req.body, "tax_report_setting")
    with req.app.store.tx() as db:
        key, current = _stored(db, req)
        clean = _clean_setting({**data, "code": current["code"]}, current)
        clean.update(auto_generate=True, updated_at=now_iso())
        db.set_meta(key, clean)
    return 200, {"tax_report_setting": clean}


def delete_setting(req):
    _gate(req)
    with req.app.store.tx() as db:
        key, current = _stored(db, req)
        db.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
    return 200, {"tax_report_setting": current}


# -- contacts --------------------------------------------------------------------------------
def is_company(contact):
    """A French company contact: the Annuaire check and Flux 1 apply to it."""
    return (str(contact.get("country") or "fr").lower() == "fr"
            and not contact.get("public_sector")
            and contact.get("transport_type_code") != "fr.chorus")


def reform_applies(db, account_id, contact):
    """An invoice to a French company from an account with the dgfip setting: the reform's
    flow (Flux 1, CIUS-FR, the buyer's lifecycle) applies; otherwise the plain one."""
    return contact is not None and is_company(contact) and setting(db, account_id) is not None


def annuaire_state(app, db, contact):
    """`in_dgfip_annuaire` of a contact: None while the asynchronous check runs, then True or
    False (the fake Annuaire: the directory's companies as listed, any other private SIREN
    registered, a public SIREN never)."""
    if not is_company(contact):
        return None
    if contact.get("_annuaire_checked"):
        return contact.get("in_dgfip_annuaire")
    created = float(contact.get("_created") or 0)
    if time.time() - created < float(knobs(db)["annuaire_delay"]):
        return None
    ident = str(contact.get("cin_value") or "")
    entry = directory_data.company(ident) or directory_data.company(ident[:9])
    if entry is not None:
        found = bool(entry["in_dgfip_annuaire"])
    else:
        found = bool(ident) and not directory_data.is_public_siren(ident)
    contact.update(in_dgfip_annuaire=found, _annuaire_checked=True)
    db.put_contact(contact)
    return found


def shown_contact(app, db, contact):
    """The contact as the API shows it: `in_dgfip_annuaire` for French contacts, no private keys."""
    shown = {k: v for k, v in contact.items() if not k.startswith("_")}
    if str(contact.get("country") or "").lower() == "fr" and not contact.get("parent_id"):
        shown["in_dgfip_annuaire"] = annuaire_state(app, db, contact)
    return shown


# -- invoices --------------------------------------------------------------------------------
def invoice_errors(db, account, contact, data, errors):
    """The documented 422s of a French B2B invoice from an activated account."""
    if contact is None or not is_company(contact) or setting(db, account["id"]) is None:
        return
    for field, label in REQUIRED_FIELDS:
        if blank(data.get(field)):
            errors.add(field, "parameter_blank", f"{label} is required for DGFiP reporting")
    if blank(data.get("due_date")):
        errors.add("due_date", "parameter_blank", "Due date is required for DGFiP reporting")


def process_code(db, account_id):
    found = setting(db, account_id) or {}
    return PROCESS_LETTER.get(found.get("type_operation"), "S") + "1"


def on_create(app, db, account, contact, invoice):
    """A Flux 1 tax report for an invoice to a French company from an activated account (none
    when the buyer is known not to be in the Annuaire). Returns the new report's ids."""
    found = setting(db, account["id"])
    if found is None or contact is None or not is_company(contact):
        return []
    if dt.date.fromisoformat(found["start_date"]) > dt.date.fromisoformat(str(invoice["date"])):
        return []
    if annuaire_state(app, db, contact) is False:
        return []
    stamp = now_iso()
    report = {"id": db.new_id(), "account_id": account["id"], "invoice_id": invoice["id"],
              "code": CODE, "state": "new", "flux": "1",
              "document_type_code": ("xml.tax_report.dgfip.flux1.base.credit_note"
                                     if invoice.get("is_credit_note")
                                     else "xml.tax_report.dgfip.flux1.base.invoice"),
              "ledger_id": None, "number": invoice["number"], "date": str(invoice["date"]),
              "total": invoice.get("total"), "tax_amount": invoice.get("tax_amount"),
              "errors": [], "created_at": stamp, "updated_at": stamp, "state_updated_at": stamp}
    db.put_tax_report(report)
    return [report["id"]]


def report_change(app, db, report, state, reason=None):
    """Move a tax report (terminal states send `tax_report.state_change`)."""
    moment = time.time()
    stamp = now_iso(moment)
    report.update(state=state, updated_at=stamp, state_updated_at=stamp)
    if reason:
        report["errors"] = [{"error": reason, "error_code": "cdv_301"}]
    db.put_tax_report(report)
    if state in TERMINAL and webhooks.config(db).get("url"):
        event_id = db.new_id()
        body = dumps({"id": event_id, "code": "tax_report.state_change",
                      "triggered_at": int(moment),
                      "data": {"tax_report_id": report["id"], "event_id": event_id,
                               "state": state, "notes": reason, "object": report}})
        db.add_delivery(event_id, body, moment, stamp)
        app.webhook_wake.set()


def on_deposit(app, db, invoice):
    """The invoice's reports deposited with it (new -> sent)."""
    for ident in invoice.get("tax_report_ids") or []:
        report = db.tax_report(ident)
        if report and report["state"] == "new":
            report_change(app, db, report, "sent")


def on_advance(app, db, invoice):
    """The DGFiP's answer to the invoice's reports when the invoice moves on from `sent`:
    registered (CDV 300), or refused (CDV 301) when a refusal was asked for. Returns the
    refusal reason, or None."""
    reason = None
    for ident in invoice.get("tax_report_ids") or []:
        report = db.tax_report(ident)
        if report is None or report["state"] in TERMINAL:
            continue
        if report["state"] == "sent":
            report_change(app, db, report, "acknowledged")
        state = knobs(db)
        if state["refuse_reports"] > 0:
            db.set_meta("dgfip", {**state, "refuse_reports": state["refuse_reports"] - 1})
            reason = "Rejet DGFiP (CDV 301) : données de facture incohérentes avec l'annuaire"
            report_change(app, db, report, "refused", reason)
        else:
            report_change(app, db, report, "registered")
    return reason


def show_report(req):
    _gate(req)
    with req.app.store.tx() as db:
        report = db.tax_report(to_int(req.params["id"], "tax report"))
        if report is None:
            raise not_found("tax_report", req.params["id"])
    return 200, {"tax_report": report}


def list_reports(req):
    _gate(req)
    offset, limit = page(req.query)
    with req.app.store.tx() as db:
        account = _account(db, req.params["id"])
        reports = db.tax_reports(account["id"])
    return 200, listing("tax_reports", reports[offset:offset + limit], len(reports), offset, limit)


# -- control -----------------------------------------------------------------------------------
def control_get(req):
    with req.app.store.tx() as db:
        return 200, knobs(db)


def control_post(req):
    body = req.body if isinstance(req.body, dict) else {}
    with req.app.store.tx() as db:
        state = knobs(db)
        for key in ("annuaire_down", "refuse_reports", "annuaire_delay"):
            if key in body:
                state[key] = body[key]
        db.set_meta("dgfip", state)
    return 200, state

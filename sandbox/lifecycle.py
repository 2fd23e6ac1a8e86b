"""The invoice state machine (Chorus Pro through B2Brouter) and the thread that drives it.

new -> sending -> sent (DEPOSEE) -> registered (MISE_A_DISPOSITION) -> accepted (SERVICE_FAIT)
-> paid (MISE_EN_PAIEMENT); registered -> refused (A_RECYCLER / REJETEE / SUSPENDUE);
sending -> error when the invoice cannot be deposited. Every change goes through
`change_state`, which sets state_updated_at, records an event and queues a webhook. ack_at
survives state changes; only a new deposit (`invoices._send`) clears it.
"""

import hashlib
import logging
import time

from sandbox import dgfip, parties, ubl, webhooks
from sandbox.errors import FieldErrors
from sandbox.jsonutil import now_iso

log = logging.getLogger("sandbox.lifecycle")

# Every state of an issued invoice B2Brouter documents (list filters, mark_as targets, the
# historical engine); the life cycle below walks the Chorus Pro ones.
STATES = ("new", "sending", "sent", "registered", "accepted", "refused", "allegedly_paid",
          "paid", "closed", "error", "cancelled", "annulled", "discarded")
CHORUS_STATUS = {
    "sent": "DEPOSEE",
    "registered": "MISE_A_DISPOSITION",
    "accepted": "SERVICE_FAIT",
    "paid": "MISE_EN_PAIEMENT",
}
# Refusal statuses, with the reason Chorus Pro gives and its refusal code.
REFUSALS = {
    "A_RECYCLER": ("Code service inconnu ou inactif pour la structure destinataire", "DEST_ERR"),
    "REJETEE": ("Montant total erroné", "MONTANTTOTAL_ERR"),
    "SUSPENDUE": ("Pièces justificatives manquantes", "AUTRE"),
}
NEXT_STATE = {"sent": "registered", "registered": "accepted", "accepted": "paid"}
ADVANCING = ("sending", "sent", "registered", "accepted")


def change_state(app, db, invoice, state, chorus_status=None, reason=None, notes=None,
                 company=False):
    """Move `invoice` to `state` and persist it, with its event and webhook, in the caller's tx.
    `company`: a French company's invoice, which has no Chorus Pro status."""
    moment = time.time()
    stamp = now_iso(moment)
    refused = state == "refused"
    code = None
    if refused and company:
        reason = reason or "Refusée par l'acheteur"
    elif refused:
        chorus_status = chorus_status or "REJETEE"
        default_reason, code = REFUSALS[chorus_status]
        reason = reason or default_reason
    invoice.update(
        state=state,
        state_updated_at=stamp,
        updated_at=stamp,
        chorus_status=None if company else chorus_status or CHORUS_STATUS.get(state),
        chorus_status_reason=reason if refused else None,
        refuse_reason=reason if refused else None,
        refuse_code=code,
    )
    if app.settings.documented_only:
        # Chorus Pro's status is the sandbox's own extra: a documented B2Brouter gives the
        # state, and for a refusal its reason (`refuse_reason`, the webhook's `notes`).
        invoice["chorus_status"] = invoice["chorus_status_reason"] = invoice["refuse_code"] = None
    event = {
        "id": db.new_id(),
        "invoice_id": invoice["id"],
        "state": state,
        "chorus_status": invoice["chorus_status"],
        "notes": notes or (reason if refused else None),
        "at": stamp,
        # Carried by the webhook (DECISION, docs/b2brouter-contract.md): the receiver needs no
        # extra call to order the change or to fetch the legal XML.
        "state_updated_at": stamp,
        "download_legal_url": invoice.get("download_legal_url"),
    }
    db.put_invoice(invoice, moment)
    db.add_event(event)
    webhooks.enqueue(app, db, event, moment)
    return invoice


def deposit(app, db, invoice):
    """sending -> sent with the legal XML generated once, or -> error when it cannot go."""
    if invoice["errors"]:
        notes = "; ".join(e["error"] for e in invoice["errors"])
        return change_state(app, db, invoice, "error", notes=notes)
    contact = db.contact(invoice["contact_id"])
    if contact is None:
        invoice["errors"] = [{"error": "Contact not found", "error_code": "contact_missing"}]
        return change_state(app, db, invoice, "error", notes="Contact not found")
    effective = parties.effective_contact(db, contact)
    if app.settings.documented_only:
        # A documented B2Brouter does not check Chorus Pro's routing rules on creation: the
        # deposit fails with Chorus Pro's reason (state error, reason in errors and notes).
        entry = parties.chorus_entry(effective)
        problems = FieldErrors()
        if entry is not None:
            parties.chorus_rules(entry, invoice, problems)
        if problems.items:
            invoice["errors"] = [{"error": p["message"], "error_code": p["code"]}
                                 for p in problems.items]
            return change_state(app, db, invoice, "error",
                                notes="; ".join(p["message"] for p in problems.items))
    account = db.account(invoice["account_id"])
    company = dgfip.reform_applies(db, account["id"], effective)
    if company:
        effective = {**effective, "_process": dgfip.process_code(db, account["id"]),
                     "_reform": True}
    xml = ubl.build(invoice, account, effective, db.attachments_of(invoice["id"]))
    attachment_id = db.new_id()
    filename = "".join(c if c.isalnum() or c in "-_+" else "_" for c in invoice["number"]) + ".xml"
    db.add_attachment(attachment_id, invoice["id"], filename, xml)
    invoice["download_legal_url"] = f"/attachments/download/{attachment_id}/{filename}"
    dgfip.on_deposit(app, db, invoice)
    return change_state(app, db, invoice, "sent", company=company)


def _refusal(app, db, invoice):
    """The Chorus status of a refusal at `registered`, or None when the invoice goes on.

    Deterministic: a hash of (seed, invoice id, send count) against --refuse-share; the kinds
    alternate (routing return, then rejection) using a persisted counter.
    """
    key = f"{app.settings.seed}:{invoice['id']}:{invoice['_sends']}".encode()
    draw = int(hashlib.sha256(key).hexdigest()[:8], 16) / 0x100000000
    if draw >= app.settings.refuse_share:
        return None
    count = db.meta("refusals", 0)
    db.set_meta("refusals", count + 1)
    return "A_RECYCLER" if count % 2 == 0 else "REJETEE"


def _payment_not_reported(db, invoice):
    """True when the buyer entity never reports payment (Chorus statutMiseEnPaiementNestPasRemonte)."""
    contact = db.contact(invoice["contact_id"])
    entry = parties.chorus_entry(parties.effective_contact(db, contact)) if contact else None
    return bool(entry and entry["chorus"]["payment_status_not_reported"])


def advance(app, db, invoice):
    """Take the next step of an invoice in sending/sent/registered/accepted.

    Returns the new state, or None when the invoice stays (payment never reported).
    """
    state = invoice["state"]
    if state == "sending":
        return deposit(app, db, invoice)["state"]
    contact = db.contact(invoice["contact_id"])
    if contact is not None and dgfip.reform_applies(db, invoice["account_id"],
                                                    parties.effective_contact(db, contact)):
        return _advance_company(app, db, invoice, state)
    if state == "registered":
        refusal = _refusal(app, db, invoice)
        if refusal:
            return change_state(app, db, invoice, "refused", chorus_status=refusal)["state"]
    if state == "accepted" and _payment_not_reported(db, invoice):
        return None
    return change_state(app, db, invoice, NEXT_STATE[state])["state"]


# A French company's invoice (FR-GUIDE): registered once the DGFiP registered its tax report
# (CDV 300; error when refused, CDV 301), then accepted by the buyer, then allegedly_paid.
COMPANY_NEXT = {"sent": "registered", "registered": "accepted", "accepted": "allegedly_paid"}


def _advance_company(app, db, invoice, state):
    if state == "sent":
        reason = dgfip.on_advance(app, db, invoice)
        if reason:
            invoice["errors"] = [{"error": reason, "error_code": "tax_report_refused"}]
            return change_state(app, db, invoice, "error", notes=reason, company=True)["state"]
    if state == "registered" and _refusal(app, db, invoice):
        reason = "Refusée par l'acheteur (CDAR 210) : commande non reçue"
        return change_state(app, db, invoice, "refused", reason=reason, company=True)["state"]
    return change_state(app, db, invoice, COMPANY_NEXT[state], company=True)["state"]


def advance_all(app):
    """One step for every invoice that can move (POST /_sandbox/advance). Returns the moves."""
    with app.store.tx() as db:
        ids = db.invoices_in_states(ADVANCING, time.time())
    return _advance_ids(app, ids)


def _advance_ids(app, ids):
    moves = []
    for ident in ids:
        with app.store.tx() as db:
            invoice = db.invoice(ident)
            if invoice is None or invoice["state"] not in ADVANCING:
                continue
            before = invoice["state"]
            after = advance(app, db, invoice)
        if after:
            moves.append({"id": ident, "from": before, "to": after})
    return moves


def tick(app, now):
    """Deposit invoices sending for --send-delay, and, with --advance-after, move the others."""
    with app.store.tx() as db:
        sending = db.invoices_in_states(("sending",), now - app.settings.send_delay)
    _advance_ids(app, sending)
    if app.settings.advance_after:
        with app.store.tx() as db:
            due = db.invoices_in_states(ADVANCING[1:], now - app.settings.advance_after)
        _advance_ids(app, due)


def run(app):
    """The lifecycle thread's body: tick until the app stops."""
    period = max(0.01, min(0.05, app.settings.send_delay / 2))
    while not app.stopping.wait(period):
        try:
            tick(app, time.time())
        except Exception:  # keep the thread alive; the next tick retries
            log.exception("lifecycle tick failed")

"""The sandbox-only control endpoints under /_sandbox/ (never subject to faults or latency)."""

from sandbox import lifecycle, webhooks
from sandbox.common import blank
from sandbox.errors import bad_request
from sandbox.invoices import invoice_or_404, render


def health(req):
    return 200, {"status": "ok"}


def set_state(req):
    """Set an invoice's state as Chorus Pro would: {"state", "chorus_status"?, "reason"?}."""
    body = req.body if isinstance(req.body, dict) else {}
    state, status = body.get("state"), body.get("chorus_status")
    if state not in lifecycle.STATES:
        raise bad_request(f"state must be one of {', '.join(lifecycle.STATES)}")
    if state == "refused" and status not in (None, *lifecycle.REFUSALS):
        raise bad_request(f"chorus_status of a refusal must be one of {', '.join(lifecycle.REFUSALS)}")
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        reason = None if blank(body.get("reason")) else str(body["reason"])
        if state == "sent" and not invoice.get("download_legal_url"):
            lifecycle.deposit(req.app, db, invoice)  # generates the XML a deposit would
        elif state == "error":
            invoice["errors"] = [{"error": reason or "Deposit failed", "error_code": "deposit_failed"}]
            lifecycle.change_state(req.app, db, invoice, state, notes=reason or "Deposit failed")
        else:
            lifecycle.change_state(req.app, db, invoice, state, chorus_status=status, reason=reason)
    return 200, render(invoice)


def events(req):
    """An invoice's recorded state changes, oldest first."""
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        return 200, {"events": db.events(invoice["id"])}


def advance(req):
    return 200, {"moves": lifecycle.advance_all(req.app)}


def get_faults(req):
    return 200, req.app.faults.describe()


def post_faults(req):
    if not isinstance(req.body, dict):
        raise bad_request("Expected a JSON object")
    req.app.faults.update(req.body)
    return 200, req.app.faults.describe()


def delete_faults(req):
    req.app.faults.clear()
    return 200, req.app.faults.describe()


def get_webhook(req):
    with req.app.store.tx() as db:
        return 200, webhooks.config(db)


def put_webhook(req):
    body = req.body if isinstance(req.body, dict) else None
    if body is None or not all(isinstance(body.get(k), str | None) for k in ("url", "secret")):
        raise bad_request('Expected {"url": ..., "secret": ...}')
    with req.app.store.tx() as db:
        db.set_meta("webhook", {"url": body.get("url"), "secret": body.get("secret")})
    return 200, {"url": body.get("url"), "secret": body.get("secret")}


def deliveries(req):
    with req.app.store.tx() as db:
        return 200, {"deliveries": webhooks.listing(db)}


def get_stats(req):
    return 200, req.app.stats.describe()


def delete_stats(req):
    req.app.stats.reset()
    return 200, req.app.stats.describe()

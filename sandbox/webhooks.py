"""Webhooks: a persisted outbox and the thread that delivers it with exponential backoff.

Each state change queues one delivery (when a URL is configured) in the same transaction as
the change, so no change is lost and a delivery survives a restart. A delivery is retried while
the receiver answers non-2xx or not at all: after attempt n it waits backoff x 2^(n-1) seconds,
capped at 60 s, up to --webhook-max-attempts attempts.
"""

import hashlib
import hmac
import logging
import time
import urllib.error
import urllib.request

from sandbox.jsonutil import dumps, loads, now_iso

log = logging.getLogger("sandbox.webhooks")

MAX_DELAY = 60.0
TIMEOUT = 5.0


def config(db):
    """The webhook target: {"url", "secret"} (either may be None)."""
    return db.meta("webhook", {"url": None, "secret": None})


def enqueue(app, db, event, moment):
    """Queue the `issued_invoice.state_change` delivery of an event (no URL configured: none)."""
    if not config(db).get("url"):
        return
    data = {
        "invoice_id": event["invoice_id"],
        "event_id": event["id"],
        "state": event["state"],
        "notes": event["notes"],
    }
    if not app.settings.documented_only:
        # The sandbox's extras (DECISION, docs/b2brouter-contract.md "Webhooks").
        data.update(chorus_status=event["chorus_status"],
                    state_updated_at=event.get("state_updated_at"),
                    download_legal_url=event.get("download_legal_url"))
    body = dumps({"code": "issued_invoice.state_change", "triggered_at": int(moment),
                  "data": data})
    db.add_delivery(event["id"], body, moment, now_iso(moment))
    app.webhook_wake.set()


def signature(secret, timestamp, body):
    """The X-B2Brouter-Signature value: t=<unix s>,s=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    digest = hmac.new(
        (secret or "").encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},s={digest}"


def _post(url, secret, body):
    """POST once; returns (HTTP status or None, error text or None)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's configuration
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-B2Brouter-Signature": signature(secret, int(time.time()), body),
            "User-Agent": "b2brouter-sandbox-webhooks",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            return answer.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except OSError as exc:
        return None, str(exc) or type(exc).__name__


def _attempt(app, delivery):
    with app.store.tx() as db:
        target = config(db)
    if target.get("url"):
        status, error = _post(target["url"], target.get("secret"), delivery["body"])
    else:
        status, error = None, "no webhook URL configured"
    attempts = delivery["attempts"] + 1
    fields = {"attempts": attempts, "last_status": status, "last_error": error}
    if status is not None and 200 <= status < 300:
        fields.update(status="delivered", delivered_at=now_iso(), last_error=None)
    elif attempts >= app.settings.webhook_max_attempts:
        fields.update(status="failed")
    else:
        delay = min(app.settings.webhook_backoff * 2 ** (attempts - 1), MAX_DELAY)
        fields.update(next_attempt=time.time() + delay)
    with app.store.tx() as db:
        db.update_delivery(delivery["id"], **fields)


def deliver_due(app):
    """Attempt every delivery that is due now, oldest first."""
    with app.store.tx() as db:
        due = db.due_deliveries(time.time())
    for delivery in due:
        if app.stopping.is_set():
            return
        _attempt(app, delivery)


def run(app):
    """The delivery thread's body: sleep until the next due delivery or a new one, deliver."""
    while not app.stopping.is_set():
        app.webhook_wake.clear()  # before looking, so that a delivery queued meanwhile wakes us
        try:
            deliver_due(app)
            with app.store.tx() as db:
                next_at = db.next_delivery_at()
        except Exception:  # keep delivering; the failed attempt stays pending
            log.exception("webhook delivery loop failed")
            next_at = time.time() + 1
        wait = 1.0 if next_at is None else min(max(next_at - time.time(), 0.0), 1.0)
        app.webhook_wake.wait(wait)


def listing(db):
    """Every delivery, oldest first, with its body parsed (GET /_sandbox/webhook/deliveries)."""
    return [{**d, "body": loads(d["body"])} for d in db.deliveries()]

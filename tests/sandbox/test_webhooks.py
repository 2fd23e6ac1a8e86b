"""Webhooks: payload, signature, retries with backoff, and deliveries that survive a restart."""

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest

from tests.sandbox.conftest import Api, wait_for
from tests.support.sandbox import SandboxProcess, free_port

SECRET = "whsec_test"


class Receiver:
    """A local webhook endpoint answering 500 to the first `failures` posts, then 200."""

    def __init__(self, failures=0, port=None):
        self.failures = failures
        self.received = []  # (monotonic time, headers, raw body, status answered)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if receiver.failures > 0 else 200
                receiver.failures -= 1
                receiver.received.append((time.monotonic(), dict(self.headers), raw, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self):
        return [json.loads(raw) for _, _, raw, status in self.received if status == 200]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def verify(headers, raw):
    """Check X-B2Brouter-Signature as a receiver must: t=<unix>,s=<hex hmac of "t.body">."""
    parts = dict(p.split("=", 1) for p in headers["X-B2Brouter-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + raw, hashlib.sha256)
    return hmac.compare_digest(parts["s"], expected.hexdigest()) and abs(
        int(parts["t"]) - time.time()) < 300


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_each_state_change_is_posted_and_signed(sandbox, api, account, plain_contact, receiver):
    api.ok("PUT", "/_sandbox/webhook", {"url": receiver.url, "secret": SECRET})
    try:
        invoice = api.create_invoice(account["id"], plain_contact["id"], send=True)["invoice"]
        api.wait_state(invoice["id"], "sent")
        api.set_state(invoice["id"], "refused", chorus_status="A_RECYCLER")
        mine = lambda: [b for b in receiver.delivered()  # noqa: E731
                        if b["data"]["invoice_id"] == invoice["id"]]
        events = wait_for(lambda: len(mine()) == 3 and mine())
    finally:
        api.ok("PUT", "/_sandbox/webhook", {"url": None, "secret": None})
    assert [e["data"]["state"] for e in events] == ["sending", "sent", "refused"]
    refused = events[2]
    assert refused["code"] == "issued_invoice.state_change"
    assert isinstance(refused["triggered_at"], int)
    assert refused["data"]["chorus_status"] == "A_RECYCLER"
    assert refused["data"]["notes"] == "Code service inconnu ou inactif pour la structure destinataire"
    assert set(refused["data"]) == {"invoice_id", "event_id", "state", "notes", "chorus_status",
                                    "state_updated_at", "download_legal_url"}
    assert refused["data"]["download_legal_url"].startswith("/attachments/download/")
    assert refused["data"]["state_updated_at"].endswith("Z")
    for _, headers, raw, _ in receiver.received:
        assert headers["Content-Type"] == "application/json" and verify(headers, raw)


def test_failed_deliveries_are_retried_with_backoff(tmp_path):
    receiver = Receiver(failures=3)
    try:
        with SandboxProcess(data_dir=tmp_path, send_delay=0.02, webhook_url=receiver.url,
                            webhook_secret=SECRET, webhook_backoff=0.2) as sandbox:
            api = Api(sandbox)
            account = api.create_account()
            contact = api.create_contact(account["id"])
            invoice = api.create_invoice(account["id"], contact["id"])["invoice"]
            api.set_state(invoice["id"], "sent")
            wait_for(lambda: receiver.delivered(), timeout=10)
            deliveries = api.ok("GET", "/_sandbox/webhook/deliveries")["deliveries"]
    finally:
        receiver.close()
    times = [t for t, *_ in receiver.received]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert [status for *_, status in receiver.received] == [500, 500, 500, 200]
    # backoff 0.2 s x 1, 2, 4 (the thread wakes up at least once a second)
    assert gaps[0] >= 0.15 and gaps[1] >= 0.35 and gaps[2] >= 0.75
    assert deliveries[0]["status"] == "delivered" and deliveries[0]["attempts"] == 4
    assert all(verify(headers, raw) for _, headers, raw, _ in receiver.received)


def test_delivery_gives_up_after_max_attempts(tmp_path):
    receiver = Receiver(failures=100)
    try:
        with SandboxProcess(data_dir=tmp_path, webhook_url=receiver.url, webhook_secret=SECRET,
                            webhook_backoff=0.05, webhook_max_attempts=3) as sandbox:
            api = Api(sandbox)
            account = api.create_account()
            contact = api.create_contact(account["id"])
            invoice = api.create_invoice(account["id"], contact["id"])["invoice"]
            api.set_state(invoice["id"], "error", reason="x")
            delivery = wait_for(lambda: (d := api.ok("GET", "/_sandbox/webhook/deliveries")[
                "deliveries"]) and d[0]["status"] == "failed" and d[0])
    finally:
        receiver.close()
    assert delivery["attempts"] == 3 and delivery["last_status"] == 500
    assert len(receiver.received) == 3


def test_pending_deliveries_survive_a_restart(tmp_path):
    port = free_port()
    sandbox = SandboxProcess(data_dir=tmp_path, webhook_url=f"http://127.0.0.1:{port}/hooks",
                             webhook_secret=SECRET, webhook_backoff=0.1).start()
    try:
        api = Api(sandbox)
        account = api.create_account()
        contact = api.create_contact(account["id"])
        invoice = api.create_invoice(account["id"], contact["id"])["invoice"]
        api.set_state(invoice["id"], "error", reason="down")
        wait_for(lambda: api.ok("GET", "/_sandbox/webhook/deliveries")["deliveries"][0][
            "attempts"] >= 1)
        sandbox.stop(remove_data=False)
        receiver = Receiver(port=port)
        try:
            sandbox.start()
            events = wait_for(lambda: receiver.delivered(), timeout=10)
        finally:
            receiver.close()
    finally:
        sandbox.stop()
    assert events[0]["data"]["invoice_id"] == invoice["id"]
    assert events[0]["data"]["state"] == "error" and events[0]["data"]["notes"] == "down"

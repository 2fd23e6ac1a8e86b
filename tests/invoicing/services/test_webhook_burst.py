"""A burst of a thousand webhook deliveries, with duplicates and out of order, sent concurrently
to the live server and applied by a real worker: none lost, none applied twice."""

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings

from b2brouter.webhooks import sign
from invoicing.models import Invoice, InvoiceEvent, WebhookEvent
from invoicing.models import InvoiceState as S
from tests.conftest import WorkerProcess, wait_for
from tests.factories import InvoiceFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LIFE = ["sending", "sent", "registered", "accepted", "paid"]


def test_thousand_events_none_lost_none_applied_twice(live_server, b2b, registered_account, tmp_path):
    rng = random.Random(42)
    invoices = []
    for i in range(120):
        invoice = InvoiceFactory(account=registered_account, number=f"WH-{i:04d}")
        Invoice.objects.filter(pk=invoice.pk).update(remote_id=900_000 + i, state=S.NEW)
        invoices.append(invoice)
    events, next_id = [], 1
    for i in range(len(invoices)):
        for state in LIFE:
            events.append((900_000 + i, next_id, state))
            next_id += 1
    unique = len(events)  # 600
    deliveries = events + [rng.choice(events) for _ in range(1000 - unique)]
    rng.shuffle(deliveries)
    now = int(time.time())

    def deliver(event):
        invoice_id, event_id, state = event
        body = json.dumps({"code": "issued_invoice.state_change", "triggered_at": now,
                           "data": {"invoice_id": invoice_id, "event_id": event_id, "state": state,
                                    "notes": None}}).encode()
        header = sign(settings.B2BROUTER_WEBHOOK_SECRET, body, now)
        for _attempt in range(5):  # as B2Brouter retries a delivery that failed
            try:
                answer = requests.post(live_server.url + "/webhooks/b2brouter/", data=body, timeout=10,
                                       headers={"X-B2Brouter-Signature": header,
                                                "Content-Type": "application/json"})
                if answer.status_code == 200:
                    return 200
            except requests.RequestException:
                pass
            time.sleep(0.2)
        return None

    worker = WorkerProcess(b2b.url, b2b.api_key, concurrency=4, log_path=tmp_path / "worker.log")
    worker.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(deliver, deliveries))
        assert statuses.count(200) == 1000
        wait_for(lambda: WebhookEvent.objects.filter(processed_at__isnull=True).count() == 0,
                 timeout=120, interval=0.5, message="every stored event processed")
    finally:
        worker.stop()

    assert WebhookEvent.objects.count() == unique  # every distinct event kept, once
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.state == S.PAID, invoice.number
        applied = list(invoice.events.filter(kind=InvoiceEvent.Kind.STATE, source="webhook")
                       .values_list("remote_event_id", flat=True))
        assert len(applied) == len(set(applied)), f"{invoice.number} applied an event twice"
        states = list(invoice.events.filter(kind=InvoiceEvent.Kind.STATE, source="webhook")
                      .values_list("to_state", flat=True))
        assert states == sorted(states, key=LIFE.index), f"{invoice.number} moved backwards"

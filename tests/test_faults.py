"""Nothing lost, nothing sent twice, under the faults real networks and workers produce.

A batch of invoices goes through real Celery worker processes while the sandbox injects every
fault kind (5xx, 429 with Retry-After, slow answers past the client's timeout, and responses
lost after the invoice was stored) and one worker is SIGKILLed in the middle. The test plays
Celery beat (reconcile + polling) until the batch settles, then checks every invoice exists
exactly once at B2Brouter and has its remote id and a final state.
"""

import os
import time

import pytest
from django.db.models import Q

from invoicing.models import Invoice, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import remote, submission
from tests.conftest import WorkerProcess
from tests.factories import InvoiceFactory
from tests.support.sandbox import SandboxProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BATCH = int(os.environ.get("FAULT_BATCH", "24"))
SETTLED = {S.SENDING, S.SENT, S.REGISTERED, S.ACCEPTED, S.REFUSED, S.PAID, S.ERROR, S.FAILED}


@pytest.fixture
def faulty_sandbox(tmp_path, settings):
    server = SandboxProcess(data_dir=tmp_path, api_key=os.environ["B2BROUTER_API_KEY"],
                            send_delay=0.2, slow_ms=4000, retry_after=1, seed=7,
                            documented_only=True)
    server.start()
    settings.B2BROUTER_API_URL = server.url
    settings.B2BROUTER_TIMEOUT = 2.0
    yield server
    server.stop()


def _worker(sandbox, tmp_path, name, stale_after=5):
    """A real worker process (4 threads) with a short B2Brouter timeout, started."""
    w = WorkerProcess(sandbox.url, sandbox.api_key, concurrency=4, log_path=tmp_path / f"{name}.log")
    w.env["B2BROUTER_TIMEOUT"] = "2"
    w.env["SUBMIT_STALE_AFTER"] = str(stale_after)
    w.start()
    return w


def test_exactly_once_under_faults_and_a_killed_worker(faulty_sandbox, tmp_path, settings):
    """With the production horizons (a submission is taken over SUBMIT_STALE_AFTER after its
    last call, the reconciler runs every RECONCILE_EVERY): the time from the kill to the last
    invoice settled is printed (bench/soak.py measures it at scale)."""
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory

    stale_after = settings.SUBMIT_STALE_AFTER
    every = settings.CELERY_BEAT_SCHEDULE["invoicing.reconcile"]["schedule"]
    account = account_register(account=AccountFactory())
    invoices = [InvoiceFactory(account=account, number=f"FLT-{i:04d}") for i in range(BATCH)]
    faulty_sandbox.control("POST", "/_sandbox/faults", {"rates": {
        "error_5xx": 0.1, "rate_limit": 0.1, "slow": 0.05, "lost_response": 0.1}})

    def worker(name):
        return _worker(faulty_sandbox, tmp_path, name, stale_after=stale_after)

    workers = [worker("w1"), worker("w2")]
    try:
        for invoice in invoices:
            submission.invoice_request_send(invoice_id=invoice.pk)
        time.sleep(1.5)
        workers[0].process.kill()  # SIGKILL, tasks in flight die with it
        workers[0].process.wait(10)
        killed_at = time.monotonic()
        workers.append(worker("w3"))
        deadline = killed_at + 240
        reconciled_at = killed_at
        while time.monotonic() < deadline:
            states = dict(Invoice.objects.filter(account=account).values_list("number", "state"))
            if all(state in SETTLED for state in states.values()):
                break
            if time.monotonic() - reconciled_at >= every:  # what beat does
                remote.reconcile(stale_after=stale_after)
                reconciled_at = time.monotonic()
            time.sleep(0.5)
        recovery = time.monotonic() - killed_at
        print(f"\nrecovery: last invoice settled {recovery:.1f} s after the kill "
              f"(SUBMIT_STALE_AFTER={stale_after}, RECONCILE_EVERY={every:g})")
        faulty_sandbox.control("DELETE", "/_sandbox/faults")
        remote.account_sync_states(account=account)
    finally:
        for w in workers:
            w.stop()

    listed = faulty_sandbox.control("GET", f"/accounts/{account.remote_id}/invoices?limit=500")
    numbers = [item["number"] for item in listed["invoices"]]
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    assert duplicated == [], f"sent twice: {duplicated}"
    local = {i.number: i for i in Invoice.objects.filter(account=account)}
    stuck = sorted(n for n, i in local.items() if i.state not in SETTLED)
    assert stuck == [], f"stuck: {[(n, local[n].state, local[n].last_error) for n in stuck]}"
    failed = {n for n, i in local.items() if i.state == S.FAILED}
    assert failed == set(), {n: local[n].last_error for n in failed}
    assert set(numbers) == set(local), "lost at B2Brouter"
    by_number = {item["number"]: item["id"] for item in listed["invoices"]}
    for number, invoice in local.items():
        assert invoice.remote_id == by_number[number]
        # The history tells how the invoice got there: its create (POST), or, when the worker
        # that made it was killed before writing its answer, the lookup that found it there.
        attempts = invoice.events.filter(
            Q(http_method="POST") | Q(code__in=("found_after_interruption", "adopted_duplicate")),
            kind=InvoiceEvent.Kind.EXCHANGE).count()
        assert attempts >= 1, number
    retried = [i for i in local.values()
               if i.events.filter(kind=InvoiceEvent.Kind.EXCHANGE, http_status__isnull=True).exists()
               or i.submit_attempts > 1]
    assert retried, "no fault hit a submission: the test proved nothing"


def test_attachments_exactly_once_under_lost_answers_and_a_killed_worker(faulty_sandbox, tmp_path):
    """Invoices with supporting documents, while answers are lost on the create, on an upload and
    on the send, and a worker is killed: each invoice is at B2Brouter once, with exactly its
    documents, each once."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from invoicing.services import drafts
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory

    account = account_register(account=AccountFactory())
    invoices = []
    for i in range(8):
        invoice = InvoiceFactory(account=account, number=f"ATT-{i:04d}")
        for j in range(1 + i % 2):
            drafts.attachment_add(invoice=invoice, upload=SimpleUploadedFile(
                f"piece-{j}.pdf", f"%PDF-1.4 piece {i}-{j}".encode()))
        invoices.append(invoice)
    faulty_sandbox.control("POST", "/_sandbox/faults", {"queue": [
        {"kind": "lost_response", "method": "POST", "path": "/accounts/*/invoices"},
        {"kind": "lost_response", "method": "POST", "path": "/invoices/*/add_attachment"},
        {"kind": "lost_response", "method": "POST", "path": "/invoices/send_invoice/*"},
        {"kind": "slow", "method": "POST", "path": "/invoices/*/add_attachment"},
        {"kind": "error_5xx", "method": "POST", "path": "/invoices/send_invoice/*"},
    ], "rates": {"lost_response": 0.05}})

    def worker(name):
        return _worker(faulty_sandbox, tmp_path, name)

    workers = [worker("w1"), worker("w2")]
    try:
        for invoice in invoices:
            submission.invoice_request_send(invoice_id=invoice.pk)
        time.sleep(1.5)
        workers[0].process.kill()
        workers[0].process.wait(10)
        workers.append(worker("w3"))
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = dict(Invoice.objects.filter(account=account).values_list("number", "state"))
            if all(state in SETTLED - {S.SENDING} for state in states.values()):
                break
            remote.reconcile(stale_after=5)
            remote.account_sync_states(account=account)
            time.sleep(1)
        faulty_sandbox.control("DELETE", "/_sandbox/faults")
    finally:
        for w in workers:
            w.stop()

    listed = faulty_sandbox.control("GET", f"/accounts/{account.remote_id}/invoices?limit=500")
    numbers = [item["number"] for item in listed["invoices"]]
    assert sorted(numbers) == sorted(i.number for i in invoices), "sent twice or lost"
    for item in listed["invoices"]:
        invoice = Invoice.objects.get(account=account, number=item["number"])
        held = faulty_sandbox.control("GET", f"/invoices/{item['id']}")["invoice"]["attachments"]
        names = sorted(a["link"].rsplit("/", 1)[-1] for a in held)
        assert names == sorted(a.original_name for a in invoice.attachments.all()), invoice.number
        assert invoice.remote_id == item["id"] and invoice.state not in (S.FAILED, S.QUEUED)


def test_a_send_settles_within_a_minute_behind_a_housekeeping_flood(tmp_path, settings):
    """Tens of thousands of PDF fetches wait in the queues (a reconcile after an outage, a sync
    that found thousands of deposits), each a slow call to B2Brouter: a submission does not
    wait behind them (they have a queue of their own), and settles within 60 s while most of
    the flood is still waiting; faults included, it is sent once."""
    from core.enqueue import enqueue_many
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory

    flood = 20_000 if os.environ.get("REDIS_URL") else 4_000
    (tmp_path / "sandbox").mkdir()
    server = SandboxProcess(data_dir=tmp_path / "sandbox", api_key=os.environ["B2BROUTER_API_KEY"],
                            send_delay=0.2, latency_ms=100, retry_after=1, seed=11,
                            documented_only=True)
    server.start()
    settings.B2BROUTER_API_URL = server.url
    workers = []
    try:
        account = account_register(account=AccountFactory())
        deposited = InvoiceFactory(account=account, number="FLOOD-0000")
        submission.invoice_request_send(invoice_id=deposited.pk)
        submission.invoice_submit(invoice_id=deposited.pk)
        time.sleep(0.5)  # the sandbox moves it to "sent"
        assert remote.invoice_refresh(invoice_id=deposited.pk).state == S.SENT
        # every PDF request answers "not ready": each fetch is a call, then a retry later
        server.control("POST", "/_sandbox/faults", {"rates": {"pdf_missing": 1.0}})
        enqueue_many([("invoicing.invoice_fetch_pdf", [deposited.pk])] * flood)
        workers.append(_worker(server, tmp_path, "w1"))
        time.sleep(3)  # the worker is busy with the flood
        server.control("POST", "/_sandbox/faults", {"rates": {
            "pdf_missing": 1.0, "error_5xx": 0.05, "lost_response": 0.05}})
        invoices = [InvoiceFactory(account=account, number=f"FLOOD-{i:04d}") for i in (1, 2, 3)]
        started = time.monotonic()
        for invoice in invoices:
            submission.invoice_request_send(invoice_id=invoice.pk)
        sent = {S.SENDING, S.SENT, S.REGISTERED, S.ACCEPTED, S.REFUSED, S.PAID}

        def settled():
            states = set(Invoice.objects.filter(pk__in=[i.pk for i in invoices])
                         .values_list("state", flat=True))
            return states <= sent

        while not settled() and time.monotonic() - started < 60:
            remote.reconcile(stale_after=5)  # what beat does
            time.sleep(1)
        took = time.monotonic() - started
        fetched = server.control("GET", "/_sandbox/stats")["requests"].get(
            "GET /invoices/{id}/as/{code}", 0)
        print(f"\nbehind a flood of {flood} PDF fetches: sent in {took:.1f} s; "
              f"{fetched} fetches run by then")
        assert settled(), f"not sent within 60 s behind the flood ({fetched} fetches run)"
        assert fetched < flood / 2, "the flood was drained first: the test proved nothing"
        server.control("DELETE", "/_sandbox/faults")
        listed = server.control("GET", f"/accounts/{account.remote_id}/invoices?limit=500")
        numbers = sorted(item["number"] for item in listed["invoices"])
        assert numbers == ["FLOOD-0000", "FLOOD-0001", "FLOOD-0002", "FLOOD-0003"], numbers
    finally:
        for w in workers:
            w.stop()
        from config.celery import app

        app.control.purge()
        server.stop()


def test_invoices_to_companies_exactly_once_with_their_declarations(faulty_sandbox, tmp_path,
                                                                     settings):
    """Invoices to French companies under the same faults and a killed worker: each is at
    B2Brouter once, and each declaration B2Brouter made for it is kept once, whichever answer
    (the lost create's, a lookup by number, a read) first named it."""
    import datetime

    from invoicing import channels
    from invoicing.models import TaxReport
    from invoicing.services import reform
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory, BuyerFactory

    stale_after = settings.SUBMIT_STALE_AFTER
    account = account_register(account=AccountFactory())
    reform.account_activate(account=account, start_date=datetime.date.today(),
                            operation="services", naf_code="62", enterprise_size="pme")
    buyer = BuyerFactory(account=account, siret="51234567900017", name="ATELIERS DUPONT SAS",
                         public_sector=False, service_code_required=False,
                         engagement_required=False, transport_type_code="peppol",
                         document_type_code="xml.ubl.invoice.frcius.v1")
    today = datetime.date.today()
    invoices = [InvoiceFactory(account=account, buyer=buyer, service=None, buyer_reference="",
                               number=f"ENT-{i:04d}", issue_date=today,
                               due_date=today + datetime.timedelta(days=30),
                               notes=channels.Company.default_notes,
                               operation_category="services")
                for i in range(BATCH // 2)]
    faulty_sandbox.control("POST", "/_sandbox/faults", {"rates": {
        "error_5xx": 0.1, "rate_limit": 0.1, "slow": 0.05, "lost_response": 0.15}})
    workers = [_worker(faulty_sandbox, tmp_path, name, stale_after=stale_after)
               for name in ("c1", "c2")]
    try:
        for invoice in invoices:
            submission.invoice_request_send(invoice_id=invoice.pk)
        time.sleep(1.5)
        workers[0].process.kill()
        workers[0].process.wait(10)
        workers.append(_worker(faulty_sandbox, tmp_path, "c3", stale_after=stale_after))
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = set(Invoice.objects.filter(account=account).values_list("state", flat=True))
            if states <= SETTLED:
                break
            remote.reconcile(stale_after=stale_after)
            time.sleep(1.0)
        faulty_sandbox.control("DELETE", "/_sandbox/faults")
        remote.account_sync_states(account=account)
    finally:
        for w in workers:
            w.stop()

    listed = faulty_sandbox.control("GET", f"/accounts/{account.remote_id}/invoices?limit=500")
    numbers = [item["number"] for item in listed["invoices"]]
    assert sorted({n for n in numbers if numbers.count(n) > 1}) == [], "sent twice"
    local = {i.number: i for i in Invoice.objects.filter(account=account)}
    assert set(numbers) == set(local), "lost at B2Brouter"
    assert all(i.state in SETTLED and i.state != S.FAILED for i in local.values()), {
        n: (i.state, i.last_error) for n, i in local.items()}
    reports = faulty_sandbox.control(
        "GET", f"/accounts/{account.remote_id}/tax_reports?limit=500")["tax_reports"]
    by_invoice = {}
    for report in reports:
        by_invoice.setdefault(report["invoice_id"], []).append(report["id"])
    for invoice in local.values():
        remote.invoice_refresh(invoice_id=invoice.pk)  # a read names them if nothing did yet
        kept = sorted(TaxReport.objects.filter(invoice=invoice).values_list("remote_id",
                                                                           flat=True))
        assert kept == sorted(by_invoice.get(invoice.remote_id, [])), invoice.number
        assert len(kept) == 1, (invoice.number, kept)

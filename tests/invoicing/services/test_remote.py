"""What B2Brouter says, applied: one invoice, the polling, the reconciler."""

import datetime

import pytest

from invoicing.models import Invoice, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import remote, submission
from tests.factories import InvoiceFactory
from tests.invoicing.services.helpers import queue

pytestmark = pytest.mark.django_db


def _remote(invoice, state, ts, **extra):
    return {"id": invoice.remote_id, "state": state, "state_updated_at": ts, **extra}


def test_states_move_forward_only_and_repeats_change_nothing(invoice, b2b):
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    apply = remote.invoice_apply_remote
    assert apply(remote=_remote(invoice, "registered", "2099-01-01T10:00:01.000Z"), source="poll")
    assert not apply(remote=_remote(invoice, "registered", "2099-01-01T10:00:01.000Z"), source="poll")
    assert not apply(remote=_remote(invoice, "sent", "2099-01-01T10:00:00.000Z"), source="webhook")
    assert not apply(remote=_remote(invoice, "sent", "2099-01-01T10:00:05.000Z"), source="webhook")
    assert apply(remote=_remote(invoice, "refused", "2099-01-01T10:00:06.000Z",
                                chorus_status="A_RECYCLER", chorus_status_reason="Service inconnu"),
                 source="webhook")
    invoice.refresh_from_db()
    assert invoice.state == S.REFUSED
    assert invoice.chorus_status == "A_RECYCLER"
    last = invoice.events.filter(kind=InvoiceEvent.Kind.STATE).last()
    assert (last.from_state, last.to_state, last.source, last.reason) == (
        "registered", "refused", "webhook", "Service inconnu")


def test_polling_applies_every_change_one_call_per_page(registered_account, b2b):
    invoices = [InvoiceFactory(account=registered_account) for _ in range(5)]
    for invoice in invoices:
        queue(invoice)
        submission.invoice_submit(invoice_id=invoice.pk)
    for invoice in invoices:
        invoice.refresh_from_db()
        b2b.control("POST", f"/_sandbox/invoices/{invoice.remote_id}/state", {"state": "registered"})
    result = remote.account_sync_states(account=registered_account, page_size=2)
    assert result.pages >= 3 and result.applied == 5
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.state == S.REGISTERED
    # Nothing changed since: the documented filter is a date, so the next sync reads the day
    # again (the overlap that misses nothing) but writes nothing.
    events = InvoiceEvent.objects.count()
    again = remote.account_sync_states(account=registered_account, page_size=2)
    assert again.applied == 0 and InvoiceEvent.objects.count() == events


def test_reconcile_takes_up_a_dead_workers_submission(invoice, b2b, enqueued,
                                                      django_capture_on_commit_callbacks):
    queue(invoice)
    submission._claim_for_submission(invoice.pk, stale_after=300)  # and the worker dies here
    Invoice.objects.filter(pk=invoice.pk).update(
        submit_started_at=invoice.created_at - datetime.timedelta(hours=1))
    counts = remote.reconcile(stale_after=60)
    enqueued["invoicing.invoice_submit"].assert_called_once_with(invoice.pk)
    assert counts["submit"] == 1


def test_the_status_sync_applies_changes_in_bulk_at_under_one_query_each(registered_account):
    """Sixty changes: every invoice moves once with its history row, the per-state totals stay
    right, and the whole takes fewer queries than changes (batched locks, updates, inserts)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from invoicing.models import InvoiceStateTotal

    invoices = [InvoiceFactory(account=registered_account) for _ in range(60)]
    for n, invoice in enumerate(invoices):
        Invoice.objects.filter(pk=invoice.pk).update(state=S.SENT, remote_id=9_000_000 + n)
    changes = {9_000_000 + n: (None, {"id": 9_000_000 + n, "state": "registered" if n % 2 else
                                      "accepted", "state_updated_at": "2026-11-25T10:00:00Z"})
               for n in range(60)}
    with CaptureQueriesContext(connection) as queries:
        applied = remote._apply_changes(registered_account, changes)
    assert applied == 60
    assert len(queries.captured_queries) < 60, len(queries.captured_queries)
    for n, invoice in enumerate(invoices):
        invoice.refresh_from_db()
        assert invoice.state == (S.REGISTERED if n % 2 else S.ACCEPTED)
        assert invoice.events.filter(kind=InvoiceEvent.Kind.STATE, source="poll").count() == 1
    kept = dict(InvoiceStateTotal.objects.filter(account=registered_account)
                .values_list("state", "count"))
    assert (kept.get(S.REGISTERED), kept.get(S.ACCEPTED), kept.get(S.SENT, 0)) == (30, 30, 0)


def _deposited_without_files(account, count):
    """`count` invoices deposited long ago, without their legal XML, PDF or acknowledgement (as
    after an outage): rows only, nothing at B2Brouter."""
    long_ago = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    invoices = [InvoiceFactory(account=account, number=f"HK-{index:05d}") for index in
                range(count)]
    Invoice.objects.filter(pk__in=[i.pk for i in invoices]).update(
        state=S.SENT, remote_id=None, state_updated_at=long_ago)
    return sorted(i.pk for i in invoices)


def test_housekeeping_goes_in_batches_to_its_own_queue_once_a_window(registered_account,
                                                                     enqueued, settings):
    """A backlog (here 25 deposited invoices without their files; 90 000 in production) is
    asked for in bounded batches, oldest first, each invoice once a window, in the queue that
    submissions do not wait behind."""
    settings.HOUSEKEEPING_BATCH = 10
    pks = _deposited_without_files(registered_account, 25)
    first = remote.reconcile(stale_after=60)
    assert (first["fetch_legal"], first["pdf"]) == (10, 10)
    second = remote.reconcile(stale_after=60)
    assert (second["fetch_legal"], second["pdf"]) == (10, 10)
    third = remote.reconcile(stale_after=60)
    assert (third["fetch_legal"], third["pdf"]) == (5, 5)
    assert remote.reconcile(stale_after=60)["fetch_legal"] == 0  # each asked once this window
    legal = [call.args[0] for call in enqueued["invoicing.invoice_fetch_legal"].call_args_list]
    assert sorted(legal) == pks and legal[:10] == pks[:10]  # every one once, the oldest first
    housekeeping = settings.CELERY_HOUSEKEEPING_QUEUE
    assert set(enqueued.queues["invoicing.invoice_fetch_legal"]) == {housekeeping}
    assert set(enqueued.queues["invoicing.invoice_fetch_pdf"]) == {housekeeping}
    # the window over, they are asked again
    Invoice.objects.filter(pk__in=pks).update(
        legal_attempted_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    assert remote.reconcile(stale_after=60)["fetch_legal"] == 10


def test_the_fetches_and_acknowledgements_are_routed_to_the_housekeeping_queue(settings):
    from config.celery import app

    for name in ("invoicing.invoice_fetch_legal", "invoicing.invoice_fetch_pdf",
                 "invoicing.invoice_acknowledge"):
        assert app.amqp.router.route({}, name)["queue"].name == \
            settings.CELERY_HOUSEKEEPING_QUEUE, name
    for name in ("invoicing.invoice_submit", "invoicing.reconcile", "invoicing.sync_states",
                 "invoicing.webhook_process", "core.fan_out"):
        assert app.amqp.router.route({}, name)["queue"].name == \
            settings.CELERY_TASK_DEFAULT_QUEUE, name

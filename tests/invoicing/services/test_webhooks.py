"""B2Brouter's webhooks: only signed, fresh notifications are taken; each is applied once, in
whatever order they come; lost ones are made up for by polling."""

import contextlib
import json
import time

import pytest
from django.urls import reverse

from b2brouter.webhooks import sign
from invoicing.models import InvoiceEvent, WebhookEvent
from invoicing.models import InvoiceState as S
from invoicing.services import remote, submission, webhooks
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


URL = "/webhooks/b2brouter/"


def payload(invoice_id, state, event_id, **data):
    return {"code": "issued_invoice.state_change", "triggered_at": int(time.time()),
            "data": {"invoice_id": invoice_id, "event_id": event_id, "state": state, "notes": None,
                     **data}}


def post(client, settings, body, *, secret=None, timestamp=None):
    raw = json.dumps(body).encode()
    header = sign(secret or settings.B2BROUTER_WEBHOOK_SECRET, raw, timestamp or int(time.time()))
    return client.post(URL, raw, content_type="application/json", HTTP_X_B2BROUTER_SIGNATURE=header)


@pytest.fixture
def sent_invoice(registered_account):
    invoice = InvoiceFactory(account=registered_account)
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    return invoice


def test_url_is_named():
    assert reverse("b2brouter_webhook") == URL


def test_valid_signature_is_stored_and_applied(client, settings, sent_invoice, process_now,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, settings, payload(sent_invoice.remote_id, "sent", 101))
    assert response.status_code == 200
    event = WebhookEvent.objects.get(dedupe_key="101")
    assert event.outcome == "applied"
    sent_invoice.refresh_from_db()
    assert sent_invoice.state == S.SENT
    history = sent_invoice.events.filter(kind=InvoiceEvent.Kind.STATE).last()
    assert (history.source, history.remote_event_id) == ("webhook", 101)


@pytest.mark.parametrize("forge", ["wrong_secret", "tampered_body", "no_header", "garbage_header"])
def test_forged_notifications_are_refused(client, settings, sent_invoice, forge):
    body = payload(sent_invoice.remote_id, "paid", 102)
    raw = json.dumps(body).encode()
    header = sign(settings.B2BROUTER_WEBHOOK_SECRET, raw, int(time.time()))
    if forge == "wrong_secret":
        header = sign("not-the-secret", raw, int(time.time()))
    elif forge == "tampered_body":
        raw = raw.replace(b'"paid"', b'"sent"')
    elif forge == "no_header":
        header = None
    else:
        header = "t=abc,s=zz"
    extra = {"HTTP_X_B2BROUTER_SIGNATURE": header} if header else {}
    response = client.post(URL, raw, content_type="application/json", **extra)
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("age", [-3600, 3600])
def test_stale_or_future_timestamps_are_refused(client, settings, sent_invoice, age):
    response = post(client, settings, payload(sent_invoice.remote_id, "paid", 103),
                    timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_replayed_notification_changes_nothing(client, settings, sent_invoice, process_now,
                                               django_capture_on_commit_callbacks):
    body = payload(sent_invoice.remote_id, "registered", 104)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, settings, body).status_code == 200
        assert post(client, settings, body).status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert sent_invoice.events.filter(to_state=S.REGISTERED).count() == 1


def test_out_of_order_notifications_never_move_backwards(client, settings, sent_invoice, process_now,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for event_id, state in [(110, "accepted"), (108, "sent"), (109, "registered"), (111, "paid")]:
            assert post(client, settings, payload(sent_invoice.remote_id, state, event_id)).status_code == 200
    sent_invoice.refresh_from_db()
    assert sent_invoice.state == S.PAID
    states = list(sent_invoice.events.filter(kind=InvoiceEvent.Kind.STATE, source="webhook")
                  .values_list("to_state", flat=True))
    assert states == ["accepted", "paid"]


def test_malformed_body_is_refused_without_a_500(client, settings):
    for raw in [b"not json", b"[]", b'{"code": "issued_invoice.state_change"}', b'{"data": {}}']:
        header = sign(settings.B2BROUTER_WEBHOOK_SECRET, raw, int(time.time()))
        response = client.post(URL, raw, content_type="application/json",
                               HTTP_X_B2BROUTER_SIGNATURE=header)
        assert response.status_code == 400, raw


def test_unconfigured_secret_refuses_everything(client, settings, sent_invoice):
    body = payload(sent_invoice.remote_id, "paid", 120)
    response = post(client, settings, body)  # signed with the secret in force
    settings.B2BROUTER_WEBHOOK_SECRET = ""
    response = post(client, settings, body, secret="anything")
    assert response.status_code == 503


def test_unknown_invoice_is_recorded_and_ignored(client, settings, process_now,
                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, settings, payload(987654321, "sent", 130)).status_code == 200
    assert WebhookEvent.objects.get().outcome == "ignored"


@pytest.mark.rich_sandbox
def test_lost_webhooks_are_recovered_by_polling_with_the_chorus_status(b2b, sent_invoice):
    """No webhook reaches us (none configured): the beat's polling still sees every change,
    Chorus Pro's status included when B2Brouter gives it."""
    b2b.control("POST", f"/_sandbox/invoices/{sent_invoice.remote_id}/state",
                {"state": "refused", "chorus_status": "REJETEE", "reason": "Montant total erroné"})
    remote.account_sync_states(account=sent_invoice.account)
    sent_invoice.refresh_from_db()
    assert sent_invoice.state == S.REFUSED
    assert sent_invoice.chorus_status == "REJETEE"
    assert "Montant" in sent_invoice.chorus_status_reason
    assert sent_invoice.events.filter(source="poll", to_state=S.REFUSED).exists()


def test_lost_webhooks_are_recovered_by_polling(b2b, sent_invoice):
    """The same from what B2Brouter documents: the state and the `refuse_reason`, no Chorus Pro
    status, so the refusal's kind is read from its reason (here: not said, both fixes offered)."""
    b2b.control("POST", f"/_sandbox/invoices/{sent_invoice.remote_id}/state",
                {"state": "refused", "chorus_status": "REJETEE", "reason": "Montant total erroné"})
    remote.account_sync_states(account=sent_invoice.account)
    sent_invoice.refresh_from_db()
    assert (sent_invoice.state, sent_invoice.chorus_status) == (S.REFUSED, "")
    assert sent_invoice.chorus_status_reason == "Montant total erroné"
    assert sent_invoice.refusal_kind == "unknown"
    assert sent_invoice.events.filter(source="poll", to_state=S.REFUSED).exists()


def test_a_stored_event_whose_task_was_lost_is_processed_by_the_reconciler(
        client, settings, sent_invoice, enqueued, django_capture_on_commit_callbacks):
    """The broker lost the processing task: the stored event is still applied, once."""
    import datetime

    with django_capture_on_commit_callbacks(execute=False):  # the task never reaches a worker
        assert post(client, settings, payload(sent_invoice.remote_id, "registered", 140)).status_code == 200
    event = WebhookEvent.objects.get(dedupe_key="140")
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=event.received_at - datetime.timedelta(minutes=10))
    enqueued.inline("invoicing.webhook_process", lambda pk: webhooks.webhook_process(event_pk=pk))
    counts = remote.reconcile(stale_after=60)
    remote.reconcile(stale_after=60)
    assert counts["webhook"] == 1 and enqueued["invoicing.webhook_process"].call_count == 1
    sent_invoice.refresh_from_db()
    assert sent_invoice.state == S.REGISTERED


def test_a_sync_that_crashes_halfway_resumes_and_misses_nothing(b2b, registered_account, monkeypatch):
    """The worker dies halfway through the changes: the cursor has not moved (an unordered
    answer proves nothing until it is read whole), the next run reads the same day again, and
    every change ends up applied exactly once."""
    invoices = []
    for _ in range(7):
        invoice = InvoiceFactory(account=registered_account)
        submission.invoice_request_send(invoice_id=invoice.pk)
        submission.invoice_submit(invoice_id=invoice.pk)
        invoice.refresh_from_db()
        invoices.append(invoice)
    for invoice in invoices:
        b2b.control("POST", f"/_sandbox/invoices/{invoice.remote_id}/state", {"state": "registered"})

    real_apply = remote.apply_remote_locked
    seen = []

    def dies_on_the_fifth(invoice, item, **kwargs):
        seen.append(item["id"])
        if len(seen) == 5:
            raise SystemExit("worker killed")
        return real_apply(invoice, item, **kwargs)

    # Changes are applied in batches, each in its own transaction: the crash comes in the
    # third, after two were committed; it is rolled back whole.
    monkeypatch.setattr(remote, "SYNC_BATCH", 2)
    monkeypatch.setattr(remote, "apply_remote_locked", dies_on_the_fifth)
    with pytest.raises(SystemExit):
        remote.account_sync_states(account=registered_account, page_size=2)
    cursor = registered_account.sync_cursor
    cursor.refresh_from_db()
    assert cursor.state_updated_at_from is None and cursor.last_success_at is None  # not moved

    monkeypatch.setattr(remote, "apply_remote_locked", real_apply)
    result = remote.account_sync_states(account=registered_account, page_size=2)
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.state == S.REGISTERED, invoice.number
        assert invoice.events.filter(to_state=S.REGISTERED).count() == 1
    assert result.seen >= len(invoices) and result.applied == len(invoices) - 4
    cursor.refresh_from_db()
    assert cursor.last_success_at and cursor.state_updated_at_from


def test_polling_keeps_the_latest_change_of_each_invoice_in_any_order():
    """The list promises no order and may repeat an invoice that changed while it was read:
    one change per invoice is kept, the latest."""
    items = [
        {"id": 1, "state": "registered", "state_updated_at": "2026-11-25T10:00:02.000Z"},
        {"id": 2, "state": "sent", "state_updated_at": "2026-11-25T09:00:00.000Z"},
        {"id": 1, "state": "sent", "state_updated_at": "2026-11-25T10:00:01.000Z"},
        {"id": 1, "state": "accepted", "state_updated_at": "2026-11-25T10:00:03.000Z"},
        {"id": 1, "state": "registered", "state_updated_at": "2026-11-25T10:00:02.000Z"},
        {"state": "sent"}, "not an invoice",
    ]
    latest = remote._latest_per_invoice(items)
    assert {k: v[1]["state"] for k, v in latest.items()} == {1: "accepted", 2: "sent"}


def test_a_lone_surrogate_is_refused_not_a_500(client, settings, sent_invoice):
    """JSON may escape half of a UTF-16 pair ("\\ud800"); no text column stores it: 400, like
    a NUL, and nothing is stored (B2Brouter would otherwise retry a 500 for ever)."""
    for where in ("notes", "state", "key", "raw"):
        raw = json.dumps(payload(sent_invoice.remote_id, "sent", 150)).encode()
        if where == "key":
            raw = raw.replace(b'"notes"', b'"n\\udfffotes"')
        elif where == "raw":  # the surrogate's own bytes, not escaped
            raw = raw.replace(b'"notes": null', b'"notes": "a\xed\xa0\x80b"')
        else:
            raw = raw.replace(b'"notes": null', b'"notes": "a\\ud800b"') if where == "notes" \
                else raw.replace(b'"state": "sent"', b'"state": "\\udc00"')
        header = sign(settings.B2BROUTER_WEBHOOK_SECRET, raw, int(time.time()))
        response = client.post(URL, raw, content_type="application/json",
                               HTTP_X_B2BROUTER_SIGNATURE=header)
        assert response.status_code == 400, (where, response.content)
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("moment", ["2026-13-45T99:99:99Z", "yesterday", "2026-02-30T10:00:00Z",
                                    "", 12, ["2026"]])
def test_an_impossible_date_is_applied_without_it_once(client, settings, sent_invoice, enqueued,
                                                       process_now, moment,
                                                       django_capture_on_commit_callbacks):
    """A signed notice whose state_updated_at is no date: the state is applied at the notice's
    own time (triggered_at), once; nothing is left to retry."""
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, settings, payload(sent_invoice.remote_id, "registered", 151,
                                                  state_updated_at=moment))
    assert response.status_code == 200
    event = WebhookEvent.objects.get(dedupe_key="151")
    assert event.outcome == "applied" and event.processed_at is not None
    sent_invoice.refresh_from_db()
    assert sent_invoice.state == S.REGISTERED
    assert remote.reconcile(stale_after=0)["webhook"] == 0


def test_a_notice_that_cannot_be_applied_is_recorded_once_and_never_retried_for_ever(
        client, settings, sent_invoice, enqueued, monkeypatch,
        django_capture_on_commit_callbacks):
    """Whatever makes the processing fail for good (here a bug), the notice is tried a bounded
    number of times by the reconciler, then recorded as abandoned: no task runs every 10 s for
    ever."""
    import datetime

    with django_capture_on_commit_callbacks(execute=False):
        assert post(client, settings, payload(sent_invoice.remote_id, "registered", 152)
                    ).status_code == 200
    event = WebhookEvent.objects.get(dedupe_key="152")

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(webhooks, "invoice_apply_remote", broken)
    runs = []

    def run(pk):
        runs.append(pk)
        with contextlib.suppress(RuntimeError):  # the worker logs it; the event stays pending
            webhooks.webhook_process(event_pk=pk)

    enqueued.inline("invoicing.webhook_process", run)
    for _ in range(30):
        WebhookEvent.objects.filter(pk=event.pk).update(
            received_at=event.received_at - datetime.timedelta(hours=1))
        WebhookEvent.objects.filter(pk=event.pk, enqueued_at__isnull=False).update(
            enqueued_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        remote.reconcile(stale_after=60)
    event.refresh_from_db()
    assert 1 <= len(runs) <= remote.MAX_WEBHOOK_ATTEMPTS
    assert event.outcome == "abandoned" and event.processed_at is not None


def test_the_same_notice_is_not_enqueued_again_while_its_window_runs(
        client, settings, sent_invoice, enqueued, django_capture_on_commit_callbacks):
    import datetime

    with django_capture_on_commit_callbacks(execute=False):
        post(client, settings, payload(sent_invoice.remote_id, "registered", 153))
    WebhookEvent.objects.update(received_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    assert remote.reconcile(stale_after=60)["webhook"] == 1
    assert remote.reconcile(stale_after=60)["webhook"] == 0  # still in the queue: once a window

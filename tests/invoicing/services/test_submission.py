"""Sending: asked once, checked, submitted to B2Brouter exactly once, over HTTP to the sandbox."""

from decimal import Decimal

import pytest

import b2brouter
from core.gateway import b2brouter_client
from directory import services as directory_services
from invoicing.history import event_text
from invoicing.models import Invoice, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import legal, remote, submission
from tests.conftest import wait_for
from tests.factories import InvoiceFactory
from tests.invoicing.services.helpers import queue, remote_invoices, sent

pytestmark = pytest.mark.django_db


def test_request_send_enqueues_once_after_commit(invoice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        queue(invoice)
        queue(invoice)
    assert len(callbacks) == 1
    invoice.refresh_from_db()
    assert invoice.state == S.QUEUED


def test_submit_creates_the_invoice_once(invoice, b2b):
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.remote_id
    assert invoice.state in (S.SENDING, S.SENT)
    assert submission.invoice_submit(invoice_id=invoice.pk) is None  # nothing left to do
    [remote] = remote_invoices(b2b, invoice.account, invoice.number)
    assert remote["id"] == invoice.remote_id
    assert remote["buyer_reference"] == "ESR_MISSION_FACTURES_DEPLACEMENTS"
    assert remote["ponumber"] == "0123456"
    assert Decimal(str(remote["total"])) == invoice.total == Decimal("3712.50")
    invoice.buyer.refresh_from_db()
    assert invoice.buyer.remote_contact_id and invoice.service.remote_contact_id


@pytest.mark.parametrize("kind", ["lost_response", "error_5xx"])
def test_ambiguous_failure_is_settled_by_number_not_by_luck(invoice, b2b, kind):
    """The answer to the create is lost (or a 5xx): the retry looks the invoice up by number first."""
    directory_services.buyer_ensure_registered(buyer=invoice.buyer)
    directory_services.service_ensure_registered(service=invoice.service)
    b2b.control("POST", "/_sandbox/faults", {
        "queue": [{"kind": kind, "method": "POST", "path": "/accounts/*/invoices"}]})
    queue(invoice)
    with pytest.raises(b2brouter.TransientError):
        submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.QUEUED and invoice.remote_id is None
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    found = remote_invoices(b2b, invoice.account, invoice.number)
    assert len(found) == 1
    assert invoice.remote_id == found[0]["id"]
    attempts = invoice.events.filter(kind=InvoiceEvent.Kind.EXCHANGE)
    assert attempts.count() == 2
    # The history tells what happened: the POST that got no usable answer, then the invoice found
    # by number. No "POST 201" dated at the recovery: that answer was never received.
    path = f"/accounts/{invoice.account.remote_id}/invoices"
    failed, then = attempts.order_by("pk")
    assert (failed.http_method, failed.http_path) == ("POST", path)
    if kind == "lost_response":  # stored, the answer lost: found by number
        assert failed.http_status is None
        assert (then.http_method, then.http_path, then.http_status) == (
            "GET", f"{path}?number={invoice.number}", 200)
        assert "essai précédent" in event_text(then)
        assert not attempts.filter(http_status=201).exists()
    else:  # refused with a 500, nothing stored: created by the second attempt
        assert failed.http_status == 500
        assert (then.http_method, then.http_path, then.http_status) == ("POST", path, 201)


@pytest.mark.rich_sandbox
def test_rejection_by_b2brouter_is_shown_on_the_invoice(registered_account, b2b):
    # Chorus Pro demands a PO for this buyer; our copy of its rules does not know it yet
    invoice = InvoiceFactory(account=registered_account, po_number="",
                             buyer__engagement_required=False, service__engagement_required=False)
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.FAILED
    assert "ponumber" in invoice.remote_field_errors
    assert "engagement" in invoice.last_error
    assert remote_invoices(b2b, registered_account, invoice.number) == []
    invoice.po_number = "0123456"
    invoice.save()
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.remote_id and invoice.state in (S.SENDING, S.SENT)


def test_a_documented_rejection_without_a_field_is_shown(registered_account, b2b):
    """A documented 422 says `code`, `message`, `type`, no field: the message is shown (here
    the number, taken at B2Brouter by an invoice another system sent)."""
    invoice = InvoiceFactory(account=registered_account)
    contact = b2b.control("POST", f"/accounts/{registered_account.remote_id}/contacts", {
        "contact": {"name": "Other", "cin_value": "21750001600019", "cin_scheme": "0009"}})
    b2b.control("POST", f"/accounts/{registered_account.remote_id}/invoices", {"invoice": {
        "number": invoice.number, "date": "2025-06-18", "due_date": "2025-07-18",
        "contact_id": contact["contact"]["id"], "invoice_lines_attributes": [
            {"description": "x", "quantity": 1, "price": 1,
             "taxes_attributes": [{"name": "TVA", "category": "S", "percent": 20}]}]}})
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.FAILED and "has already been taken" in invoice.last_error
    assert invoice.remote_field_errors == {}


def test_a_routing_rule_broken_fails_the_deposit_then_is_corrected_under_its_number(
        registered_account, b2b):
    """A documented B2Brouter does not check Chorus Pro's routing rules on creation: the
    deposit fails (error, with the reason); corrected, the invoice is created again under the
    same number after the failed document is deleted at B2Brouter (its French guide)."""
    # Chorus Pro demands a PO for this buyer; our copy of its rules does not know it yet
    invoice = InvoiceFactory(account=registered_account, po_number="",
                             buyer__engagement_required=False, service__engagement_required=False)
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.ERROR)
    invoice.refresh_from_db()
    assert "engagement" in invoice.last_error and invoice.is_editable
    failed_id = invoice.remote_id
    Invoice.objects.filter(pk=invoice.pk).update(po_number="0123456")
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.remote_id != failed_id and invoice.remote_id_to_delete is None
    assert invoice.number == invoice.number and invoice.state in (S.SENDING, S.SENT)
    assert [r["id"] for r in remote_invoices(b2b, registered_account, invoice.number)] == [
        invoice.remote_id]
    assert invoice.events.filter(http_method="DELETE", http_path=f"/invoices/{failed_id}").exists()


def test_a_fresh_claim_is_not_taken_twice(invoice, b2b):
    """Two workers on one invoice: the second finds a fresh `submitting` claim and stands back."""
    queue(invoice)
    claimed = submission._claim_for_submission(invoice.pk, stale_after=300)
    assert claimed is not None
    assert submission.invoice_submit(invoice_id=invoice.pk, stale_after=300) is None
    # After the stale delay (a dead worker), the claim is taken up again.
    submission.invoice_submit(invoice_id=invoice.pk, stale_after=0)
    invoice.refresh_from_db()
    assert len(remote_invoices(b2b, invoice.account, invoice.number)) == 1


@pytest.mark.rich_sandbox
def test_routing_return_is_resent_under_the_same_number(invoice, b2b):
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    b2b.control("POST", f"/_sandbox/invoices/{invoice.remote_id}/state",
                {"state": "refused", "chorus_status": "A_RECYCLER", "reason": "Code service inconnu"})
    remote.invoice_refresh(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.REFUSED
    submission.invoice_request_send(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.submission_round == 2
    # The return is behind it: its page no longer says "returned" once it is resent.
    assert (invoice.chorus_status, invoice.chorus_status_reason) == ("", "")
    assert invoice.events.filter(chorus_status="A_RECYCLER").exists()  # the history keeps it
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state in (S.SENDING, S.SENT)
    found = remote_invoices(b2b, invoice.account, invoice.number)
    assert [r["id"] for r in found] == [invoice.remote_id]


def test_a_refusal_b2brouter_will_not_take_back_stays_refused_with_the_way_out(invoice, b2b):
    """Updating or sending a refused (deposited) invoice is not documented: a B2Brouter that
    answers 409 leaves it refused, as deposited, its round and legal XML untouched, and says
    what to do instead."""
    invoice = sent(invoice)
    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    b2b.control("POST", f"/_sandbox/invoices/{invoice.remote_id}/state",
                {"state": "refused", "chorus_status": "A_RECYCLER", "reason": "Code service inconnu"})
    remote.invoice_refresh(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    # the documented resource gives no Chorus Pro status: the reason alone, both fixes offered
    assert (invoice.state, invoice.chorus_status, invoice.refusal_kind) == (
        S.REFUSED, "", "unknown")
    assert invoice.chorus_status_reason == "Code service inconnu"
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.REFUSED and invoice.submission_round == 1
    assert invoice.download_legal_url == document.source_url
    assert "avoir" in invoice.last_error
    assert legal.invoice_fetch_legal(invoice_id=invoice.pk).pk == document.pk


def test_failed_deposit_is_fixed_and_resent_under_the_same_number(invoice, b2b):
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    b2b.control("POST", f"/_sandbox/invoices/{invoice.remote_id}/state",
                {"state": "error", "reason": "Dépôt refusé par Chorus Pro"})
    remote.invoice_refresh(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.ERROR
    submission.invoice_request_send(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert (invoice.state, invoice.submission_round) == (S.QUEUED, 2)
    failed_id = invoice.remote_id
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state in (S.SENDING, S.SENT) and invoice.remote_id != failed_id
    assert [r["id"] for r in remote_invoices(b2b, invoice.account, invoice.number)] == [invoice.remote_id]


def test_an_earlier_attempt_landing_late_is_adopted_not_failed(invoice, b2b):
    """Attempt 1 times out (the answer is slow) but its invoice is stored after attempt 2 looked
    it up by number and found nothing: attempt 2's create is refused as a taken number, and the
    invoice found by number is adopted instead of marked failed."""
    directory_services.buyer_ensure_registered(buyer=invoice.buyer)
    directory_services.service_ensure_registered(service=invoice.service)
    queue(invoice)
    submission._claim_for_submission(invoice.pk, stale_after=0)
    body = submission.invoice_body(invoice)
    landed = b2brouter_client().create_invoice(invoice.account.remote_id, body)
    from invoicing.models import Invoice as InvoiceModel

    InvoiceModel.objects.filter(pk=invoice.pk).update(state=S.QUEUED)  # attempt 1 gave up
    real_find = b2brouter_client().find_invoice_by_number
    calls = []

    def not_yet_then_found(account_id, number):
        calls.append(number)
        return None if len(calls) == 1 else real_find(account_id, number)

    from unittest import mock

    with mock.patch.object(b2brouter_client(), "find_invoice_by_number",
                           side_effect=not_yet_then_found):
        submission.invoice_submit(invoice_id=invoice.pk, stale_after=0)
    invoice.refresh_from_db()
    assert invoice.state != S.FAILED
    assert invoice.remote_id == landed["id"]
    assert len(remote_invoices(b2b, invoice.account, invoice.number)) == 1
    [adopted] = invoice.events.filter(kind=InvoiceEvent.Kind.EXCHANGE)
    assert (adopted.http_method, adopted.http_status) == ("GET", 200)
    assert "parameter_taken" in event_text(adopted)


def test_the_claim_is_renewed_once_a_third_of_the_window_has_passed(invoice):
    """The heartbeat writes only when the claim is getting old: an answer soon after the claim
    (a submission of one call) costs no write; one after a third of the window renews it."""
    import datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    claimed_at = timezone.now() - datetime.timedelta(seconds=4)
    Invoice.objects.filter(pk=invoice.pk).update(state=S.SUBMITTING, submit_started_at=claimed_at)
    invoice.refresh_from_db()
    answers = []
    beat = submission._still_working(invoice, answers.append, stale_after=30)
    with CaptureQueriesContext(connection) as soon:
        beat("first answer")
    assert len(soon) == 0 and answers == ["first answer"]
    invoice.refresh_from_db()
    assert invoice.submit_started_at == claimed_at

    beat = submission._still_working(invoice, None, stale_after=9)  # 4 s >= 9 / 3: renewed
    with CaptureQueriesContext(connection) as late:
        beat("answer")
        beat("another answer at once")  # just renewed: nothing more
    assert len(late) == 1
    invoice.refresh_from_db()
    assert invoice.submit_started_at > claimed_at


def _statements(captured) -> list[str]:
    return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]


def test_a_submission_without_attachments_takes_seven_statements(invoice, b2b):
    """The claim (read with its buyer and service, one UPDATE, one history row), the lines, the
    lock taken again when the answer comes, one UPDATE and one INSERT of the exchange with the
    state it led to. A worker's cost is mostly these."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    directory_services.buyer_ensure_registered(buyer=invoice.buyer)
    directory_services.service_ensure_registered(service=invoice.service)
    queue(invoice)
    with CaptureQueriesContext(connection) as captured:
        submission.invoice_submit(invoice_id=invoice.pk)
    statements = _statements(captured)
    assert len(statements) == 7, "\n".join(statements)
    invoice.refresh_from_db()
    assert invoice.remote_id and invoice.state in (S.SENDING, S.SENT)
    exchange, state = invoice.events.order_by("pk")[2:]  # created, queued; submitting; then:
    assert (exchange.kind, exchange.http_status) == (InvoiceEvent.Kind.EXCHANGE, 201)
    assert (state.kind, state.from_state, state.to_state) == (
        InvoiceEvent.Kind.STATE, S.SUBMITTING, invoice.state)


def test_the_answer_goes_to_the_row_as_it_is_when_the_claim_was_taken_over(invoice, b2b):
    """Between the claim and B2Brouter's answer the reconciler put the invoice back in the queue:
    the answer is applied to the row as it is then (its history says from `queued`), not to the
    claim's copy."""
    from django.db import transaction

    from invoicing import states

    queue(invoice)
    claimed = submission._claim_for_submission(invoice.pk, stale_after=300)
    with transaction.atomic():
        row = Invoice.objects.select_for_update().get(pk=invoice.pk)
        states.invoice_transition(invoice=row, to=S.QUEUED, source=InvoiceEvent.Source.WORKER,
                                  history={"reason": "stale claim"})
    answer = {"id": 4242, "number": invoice.number, "state": S.SENDING}
    submission._submission_accepted(claimed, answer, {"invoice": {}},
                                    submission.Step("POST", "/accounts/1/invoices", 201))
    invoice.refresh_from_db()
    assert (invoice.state, invoice.remote_id) == (S.SENDING, 4242)
    last = invoice.events.filter(kind=InvoiceEvent.Kind.STATE).order_by("pk").last()
    assert (last.from_state, last.to_state) == (S.QUEUED, S.SENDING)
    assert (claimed.state, claimed.remote_id) == (S.SENDING, 4242)  # the caller's copy too


def test_a_first_invoice_registers_its_buyer_and_service_reading_each_whole_once(invoice, b2b):
    """The claim reads only the contact ids of the buyer and the service; the first invoice to
    them reads each whole once to register it (no query per field)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    queue(invoice)
    with CaptureQueriesContext(connection) as captured:
        submission.invoice_submit(invoice_id=invoice.pk)
    reads = {table: [q["sql"] for q in captured if q["sql"].startswith("SELECT")
                     and f'FROM "{table}"' in q["sql"]]
             for table in ("directory_buyer", "directory_service")}
    for table, sql in reads.items():
        # read whole once; then, under the registration's lock, its contact id again
        assert len(sql) == 2 and '"sync_state"' in sql[0], (table, sql)
        assert sql[1].startswith(f'SELECT "{table}"."remote_contact_id" AS'), (table, sql)
    invoice.refresh_from_db()
    assert invoice.buyer.remote_contact_id and invoice.service.remote_contact_id
    assert invoice.state in (S.SENDING, S.SENT)


def test_an_account_not_registered_at_b2brouter_sends_nothing_and_says_how(enqueued, db):
    """An admin can make an account without its B2Brouter id: sending from it is refused
    before the invoice is issued (no number spent), with the way out."""
    from invoicing.services.errors import InvoiceCheckFailed
    from tests.factories import AccountFactory

    account = AccountFactory(invoice_number_prefix="U-", next_invoice_sequence=1)
    draft = InvoiceFactory(account=account, number="")
    with pytest.raises(InvoiceCheckFailed) as refused:
        submission.invoice_request_send(invoice_id=draft.pk)
    assert "Enregistrer chez B2Brouter" in " ".join(refused.value.messages)
    draft.refresh_from_db()
    account.refresh_from_db()
    assert (draft.state, draft.number, account.next_invoice_sequence) == (S.DRAFT, "", 1)
    assert "invoicing.invoice_submit" not in enqueued.mocks


def test_a_queued_invoice_of_an_account_not_registered_fails_once_with_the_way_out(db):
    """Queued before the check existed (or the account's id removed since): the worker does not
    raise every 30 s for ever; the invoice fails once, saying what to do."""
    from tests.factories import AccountFactory

    account = AccountFactory(registered=True)
    invoice = InvoiceFactory(account=account)
    queue(invoice)
    type(account).objects.filter(pk=account.pk).update(remote_id=None)
    assert submission.invoice_submit(invoice_id=invoice.pk) is not None
    invoice.refresh_from_db()
    assert invoice.state == S.FAILED
    assert "Enregistrer chez B2Brouter" in invoice.last_error
    assert submission.invoice_submit(invoice_id=invoice.pk) is None  # nothing more to do

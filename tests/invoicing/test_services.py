"""Invoice services against the sandbox over HTTP: submit exactly once, apply states, archive, ack."""

import datetime
import hashlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

import b2brouter
from core.gateway import b2brouter_client
from directory import services as directory_services
from invoicing.lines import Line
from invoicing.models import Invoice, InvoiceEvent, LegalDocument
from invoicing.models import InvoiceState as S
from invoicing.services import drafts, legal, remote, submission
from tests.conftest import sandbox_bytes, wait_for
from tests.factories import BuyerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db


def remote_invoices(sandbox, account, number):
    return sandbox.control("GET", f"/accounts/{account.remote_id}/invoices?number={number}")["invoices"]


@pytest.fixture
def invoice(registered_account):
    return InvoiceFactory(account=registered_account)


@pytest.fixture(autouse=True)
def _no_faults(sandbox):
    sandbox.control("DELETE", "/_sandbox/faults")
    yield
    sandbox.control("DELETE", "/_sandbox/faults")


def queue(invoice):
    return submission.invoice_request_send(invoice_id=invoice.pk)


# --- Creating ----------------------------------------------------------------------------------

def test_invoice_create_stores_lines_and_totals(registered_account):
    buyer = BuyerFactory(account=registered_account)
    invoice = drafts.invoice_create(
        account=registered_account, number="A-1", buyer=buyer,
        issue_date=datetime.date(2026, 1, 5), due_date=datetime.date(2026, 2, 4),
        lines=[Line("Audit", Decimal("3.5"), Decimal("12.345"), Decimal("20")),
               Line("Formation", Decimal("1"), Decimal("100"), Decimal("0"),
                                 vat_category="E", exemption_reason="Art. 261-4-4° CGI")],
    )
    assert [line.line_total for line in invoice.lines.all()] == [Decimal("43.21"), Decimal("100.00")]
    assert (invoice.subtotal, invoice.tax_amount, invoice.total) == (
        Decimal("143.21"), Decimal("8.64"), Decimal("151.85"))
    assert invoice.iban == registered_account.iban
    assert invoice.events.get().to_state == S.DRAFT


def test_invoice_create_saves_nothing_when_a_value_is_invalid(registered_account):
    buyer = BuyerFactory(account=registered_account)
    with pytest.raises(ValidationError) as info:
        drafts.invoice_create(
            account=registered_account, number="A-2", buyer=buyer,
            issue_date=datetime.date(2026, 2, 5), due_date=datetime.date(2026, 1, 4),
            lines=[Line("Audit", Decimal("1"), Decimal("-5"), Decimal("20"))],
        )
    assert info.value.messages
    assert not Invoice.objects.filter(number="A-2").exists()


# --- Sending -----------------------------------------------------------------------------------

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


# --- States ------------------------------------------------------------------------------------

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
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state in (S.SENDING, S.SENT)
    found = remote_invoices(b2b, invoice.account, invoice.number)
    assert [r["id"] for r in found] == [invoice.remote_id]


def test_a_refusal_b2brouter_will_not_take_back_stays_refused_with_the_way_out(invoice, b2b):
    """Updating or sending a refused (deposited) invoice is not documented: a B2Brouter that
    answers 409 leaves it refused, as deposited, its round and legal XML untouched, and says
    what to do instead."""
    invoice = _sent(invoice)
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


# --- Legal XML and ack -------------------------------------------------------------------------

def _sent(invoice):
    queue(invoice)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    invoice.refresh_from_db()
    return invoice


def test_legal_xml_is_stored_exactly_then_acknowledged(invoice, b2b):
    invoice = _sent(invoice)
    assert not legal.invoice_acknowledge(invoice_id=invoice.pk)  # nothing stored: no ack
    assert b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["ack_at"] is None

    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    content = bytes(document.content)
    assert content == sandbox_bytes(b2b, invoice.download_legal_url)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert legal.invoice_fetch_legal(invoice_id=invoice.pk).pk == document.pk  # once

    assert legal.invoice_acknowledge(invoice_id=invoice.pk)
    document.refresh_from_db()
    assert document.acknowledged_at is not None
    assert b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["ack_at"]


def test_legal_document_cannot_be_changed_or_deleted(invoice, b2b):
    document = legal.invoice_fetch_legal(invoice_id=_sent(invoice).pk)
    document.content = b"<forged/>"
    with pytest.raises(ValueError):
        document.save()
    with pytest.raises(ValueError):
        document.delete()
    assert LegalDocument.objects.get(pk=document.pk).sha256 == hashlib.sha256(
        sandbox_bytes(b2b, invoice.download_legal_url)).hexdigest()


# --- Polling and reconciling -------------------------------------------------------------------

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

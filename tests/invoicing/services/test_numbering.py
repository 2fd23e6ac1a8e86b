"""Numbers as French law asks: given when an invoice is issued, one unique, continuous and
chronological sequence, never a hole left by a draft, never two invoices under one number, even
when many are issued at once (PostgreSQL and SQLite)."""

import datetime
import threading

import pytest

from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from invoicing.services import drafts, numbering, submission
from invoicing.services.errors import InvoiceCheckFailed
from tests.factories import AccountFactory, InvoiceFactory
from tests.invoicing.helpers import set_state
from tests.support.threads import at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return AccountFactory(invoice_number_prefix="F2026-", next_invoice_sequence=1, registered=True)


def draft(account, **fields):
    return InvoiceFactory(account=account, number="", **fields)


def test_a_number_is_given_when_the_invoice_is_issued(account, enqueued):
    invoice = draft(account)
    assert numbering.number_next(account=account) == "F2026-00001"
    issued = submission.invoice_request_send(invoice_id=invoice.pk)
    assert issued.number == "F2026-00001" and issued.state == S.QUEUED
    assert issued.issued_at is not None
    assert issued.events.filter(code="issued", params__number="F2026-00001").exists()
    account.refresh_from_db()
    assert account.next_invoice_sequence == 2


def test_drafts_abandoned_leave_no_hole(account, enqueued):
    kept = draft(account)
    for _ in range(3):
        drafts.draft_discard(invoice_id=draft(account).pk)
    later = draft(account)
    numbers = [submission.invoice_request_send(invoice_id=i.pk).number for i in (kept, later)]
    assert numbers == ["F2026-00001", "F2026-00002"]


def test_a_failed_send_takes_no_number(account, enqueued):
    invoice = draft(account, po_number="")  # the buyer requires one: the checks refuse it
    with pytest.raises(InvoiceCheckFailed):
        submission.invoice_request_send(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.number == "" and invoice.state == S.DRAFT
    account.refresh_from_db()
    assert account.next_invoice_sequence == 1


def test_an_invoice_refused_before_deposit_keeps_its_number_for_its_correction(account, enqueued):
    invoice = submission.invoice_request_send(invoice_id=draft(account).pk)
    set_state(invoice, S.FAILED)
    again = submission.invoice_request_send(invoice_id=invoice.pk)
    assert again.number == invoice.number == "F2026-00001"
    account.refresh_from_db()
    assert account.next_invoice_sequence == 2


def test_dates_follow_the_numbers(account, enqueued):
    submission.invoice_request_send(invoice_id=draft(account, issue_date=datetime.date(2025, 6, 18)).pk)
    earlier = draft(account, issue_date=datetime.date(2025, 6, 10),
                    due_date=datetime.date(2025, 7, 10))
    with pytest.raises(InvoiceCheckFailed) as error:
        submission.invoice_request_send(invoice_id=earlier.pk)
    assert "issue_date" in error.value.problems
    assert "18 juin 2025" in error.value.messages[0]
    earlier.refresh_from_db()
    assert earlier.number == "" and earlier.state == S.DRAFT


def test_no_invoice_is_dated_in_the_future(account, enqueued):
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    invoice = draft(account, issue_date=tomorrow, due_date=tomorrow + datetime.timedelta(days=30))
    with pytest.raises(InvoiceCheckFailed) as error:
        submission.invoice_request_send(invoice_id=invoice.pk)
    assert "issue_date" in error.value.problems


def test_credit_notes_share_the_sequence(account, enqueued):
    from invoicing.services import crediting

    invoice = submission.invoice_request_send(invoice_id=draft(account).pk)
    set_state(invoice, S.SENT)
    note = crediting.credit_note_create(invoice_id=invoice.pk)
    assert note.number == ""
    assert submission.invoice_request_send(invoice_id=note.pk).number == "F2026-00002"


@pytest.mark.django_db(transaction=True)
def test_parallel_issuing_gives_a_continuous_sequence_without_duplicates(enqueued):
    """Twelve drafts issued by six threads at once, on this test's database (PostgreSQL in CI,
    SQLite on a laptop): twelve numbers, 1 to 12, each once."""
    account = AccountFactory(invoice_number_prefix="P-", registered=True)
    pending = [draft(account).pk for _ in range(12)]
    lock = threading.Lock()

    def issue():
        numbers = []
        while True:
            with lock:
                if not pending:
                    return numbers
                pk = pending.pop()
            numbers.append(submission.invoice_request_send(invoice_id=pk).number)

    outcomes = at_once(issue, 6)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    numbers = [number for batch in outcomes for number in batch]
    assert sorted(numbers) == [f"P-{n:05d}" for n in range(1, 13)]
    assert sorted(Invoice.objects.filter(account=account).values_list("number", flat=True)) == \
        sorted(numbers)

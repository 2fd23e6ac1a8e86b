"""What must never be false is refused by the database itself, not only by the code."""

import datetime

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from invoicing.models import Invoice, InvoiceEvent, InvoiceLine
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def test_invoice_number_is_unique_per_account(registered_account):
    InvoiceFactory(account=registered_account, number="DUP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(account=registered_account, number="DUP-1")
    other = InvoiceFactory(number="DUP-1")  # another account may use it
    assert other.account_id != registered_account.pk


def test_an_invoice_without_lines_cannot_leave_the_drafts(registered_account):
    invoice = InvoiceFactory(account=registered_account, lines=[])
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(state="queued")
    InvoiceLine.objects.create(invoice=invoice, description="x", quantity=1, unit_price=1)
    Invoice.objects.filter(pk=invoice.pk).update(state="queued")


def test_due_date_never_before_issue_date(registered_account):
    invoice = InvoiceFactory(account=registered_account)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(due_date=invoice.issue_date - datetime.timedelta(days=1))


def test_history_cannot_be_rewritten(registered_account):
    invoice = InvoiceFactory(account=registered_account)
    event = InvoiceEvent.objects.create(invoice=invoice, kind="note", source="user", message="vu")
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceEvent.objects.filter(pk=event.pk).update(message="jamais vu")
    with pytest.raises(ValueError):
        event.save()


def test_negative_amounts_are_refused(registered_account):
    invoice = InvoiceFactory(account=registered_account)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(invoice=invoice, description="x", quantity=-1, unit_price=1)


def test_counts_per_state_kept_by_the_database_match_a_recount(registered_account):
    """Whatever happens to invoices (created, moved between states, totals changed while they
    may be, drafts deleted), the per-state counts the database keeps equal a GROUP BY over the
    invoices: credit notes counted apart, their amounts subtracted."""
    import random
    from decimal import Decimal

    from django.db.models import Case, Count, F, Q, Sum, When

    from invoicing.models import EDITABLE_STATES, InvoiceStateTotal

    rng = random.Random(3)
    invoices = [InvoiceFactory(account=registered_account, number="",
                               kind="credit_note" if n % 3 == 0 else "invoice") for n in range(12)]
    states = ["draft", "queued", "sending", "sent", "registered", "refused", "paid", "failed"]
    for _ in range(80):
        invoice = rng.choice(invoices)
        current = Invoice.objects.get(pk=invoice.pk)
        action = rng.random()
        if action < 0.6:
            Invoice.objects.filter(pk=invoice.pk).update(
                state=rng.choice(states), number=current.number or f"N-{invoice.pk}")
        elif action < 0.9 and current.state in EDITABLE_STATES:
            Invoice.objects.filter(pk=invoice.pk).update(total=Decimal(rng.randint(0, 99999)) / 100)
        elif current.state == "draft" and not current.number:
            from invoicing.services import drafts

            drafts.draft_discard(invoice_id=invoice.pk)
            invoices.remove(invoice)
    signed = Case(When(kind="credit_note", then=-F("total")), default=F("total"))
    recount = {row["state"]: (row["n"], row["credits"], row["amount"]) for row in
               Invoice.objects.filter(account=registered_account).values("state")
               .annotate(n=Count("id"), credits=Count("id", filter=Q(kind="credit_note")),
                         amount=Sum(signed))}
    kept = {row.state: (row.count, row.credit_count, row.total) for row in
            InvoiceStateTotal.objects.filter(account=registered_account, count__gt=0)}
    assert kept == recount
    assert any(credits for _n, credits, _amount in kept.values())


@pytest.mark.django_db(transaction=True)
def test_state_changes_that_cross_never_deadlock_on_the_totals(registered_account):
    """Many invoices of one account going queued -> submitting while others go back
    submitting -> queued, from several connections at once (a month-end batch with retries):
    each change locks two per-state totals rows, always in the same order, so none deadlocks,
    and the totals still match a recount."""
    from django.db import connection

    from invoicing.models import InvoiceState as S
    from invoicing.models import InvoiceStateTotal
    from tests.support.threads import at_once

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    invoices = [InvoiceFactory(account=registered_account) for _ in range(8)]
    Invoice.objects.filter(pk__in=[i.pk for i in invoices]).update(state=S.QUEUED)
    ids = [i.pk for i in invoices]

    def churn(direction):
        def run():
            start, to = (S.QUEUED, S.SUBMITTING) if direction else (S.SUBMITTING, S.QUEUED)
            for _ in range(150):
                for pk in ids:
                    with transaction.atomic():
                        if not Invoice.objects.filter(pk=pk, state=start).update(state=to):
                            Invoice.objects.filter(pk=pk).update(state=start)
            return "done"
        return run

    runs = iter([churn(True), churn(False), churn(True), churn(False)])
    lock = __import__("threading").Lock()

    def one():
        with lock:
            work = next(runs)
        return work()

    outcomes = at_once(one, 4, timeout=120)
    assert outcomes == ["done"] * 4, [repr(o) for o in outcomes if o != "done"]
    counted = {state: Invoice.objects.filter(account=registered_account, state=state).count()
               for state in (S.QUEUED, S.SUBMITTING)}
    kept = dict(InvoiceStateTotal.objects.filter(account=registered_account,
                                                 state__in=counted).values_list("state", "count"))
    assert {state: kept.get(state, 0) for state in counted} == counted

"""The ageing balance: per buyer, what is still owed (invoiced, less issued credit notes, less
payments received), not yet due and by how late past the due date, with totals, filters and a
CSV that reads back to the same figures."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from finance import selectors
from finance.services import payments
from invoicing.models import InvoiceState as S
from tests.factories import BuyerFactory, InvoiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = datetime.date(2026, 12, 3)


def owed(account, buyer, due_days_ago, number, state=S.SENT, **fields):
    due = TODAY - datetime.timedelta(days=due_days_ago)
    invoice = InvoiceFactory(account=account, buyer=buyer, number=number,
                             issue_date=due - datetime.timedelta(days=30), due_date=due,
                             **fields)  # 3 712,50 TTC each
    return set_state(invoice, state)


def test_each_invoice_falls_in_its_column_less_what_was_paid_and_credited(db):
    from core.models import Account  # noqa: F401
    from tests.factories import AccountFactory

    account = AccountFactory()
    user = user_in("finance", account, username="dominique")
    amu = BuyerFactory(account=account)
    company = BuyerFactory(account=account, siret="51234567900017", name="ATELIERS DUPONT SAS",
                           public_sector=False)
    owed(account, amu, -5, "B-1")  # not due yet
    owed(account, amu, 10, "B-2")  # 1-30
    late = owed(account, amu, 45, "B-3")  # 31-60, partly paid
    owed(account, company, 75, "B-4", service=None)  # 61-90
    owed(account, company, 200, "B-5", service=None)  # over 90
    paid = owed(account, amu, 20, "B-6")  # paid in full: not listed
    owed(account, amu, 20, "B-7", state=S.FAILED)  # never deposited: owes nothing
    InvoiceFactory(account=account, buyer=amu, number="")  # a draft: owes nothing
    import unittest.mock

    with unittest.mock.patch("django.utils.timezone.localdate", return_value=TODAY):
        payments.payment_record(invoice_id=late.pk, received_on=TODAY, amount=D("712.50"))
        payments.payment_record(invoice_id=paid.pk, received_on=TODAY, amount=D("3712.50"))
    rows, totals = selectors.ageing_balance(user=user, today=TODAY)
    by_name = {row["name"]: row for row in rows}
    assert by_name["UNIVERSITE D AIX MARSEILLE"]["not_due"] == D("3712.50")
    assert by_name["UNIVERSITE D AIX MARSEILLE"]["d1_30"] == D("3712.50")
    assert by_name["UNIVERSITE D AIX MARSEILLE"]["d31_60"] == D("3000.00")
    assert by_name["ATELIERS DUPONT SAS"]["d61_90"] == D("3712.50")
    assert by_name["ATELIERS DUPONT SAS"]["d90_plus"] == D("3712.50")
    assert totals["total"] == D("3712.50") * 4 + D("3000.00")
    assert totals["invoices"] == 5
    companies, _ = selectors.ageing_balance(user=user, today=TODAY, kind="company")
    assert [row["name"] for row in companies] == ["ATELIERS DUPONT SAS"]


def test_the_page_and_its_csv_say_the_same(db, client):
    from tests.factories import AccountFactory

    account = AccountFactory()
    buyer = BuyerFactory(account=account)
    owed(account, buyer, 40, "C-1")
    client.force_login(user_in("finance", account, username="dominique"))
    page = client.get(reverse("finance:balance"))
    assert page.status_code == 200 and "Balance âgée" in page.content.decode()
    assert f"?buyer={buyer.pk}" in page.content.decode()  # to the buyer's invoices
    export = client.get(reverse("finance:balance"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Acheteur" and rows[-1][0] == "Total"
    assert rows[1][0] == buyer.name and "3712,50" in rows[1][-1].replace("\u202f", "").replace(
        " ", "")
    wrong = client.get(reverse("finance:balance"), {"issued_from": "2026-12-01",
                                                     "issued_to": "2026-01-01"})
    assert wrong.status_code == 422 and "précède" in wrong.content.decode()


def test_the_dashboard_says_how_money_is_doing(db, client):
    from tests.factories import AccountFactory

    account = AccountFactory()
    buyer = BuyerFactory(account=account)
    today = datetime.date.today()
    this_month = set_state(InvoiceFactory(account=account, buyer=buyer, number="M-1",
                                          issue_date=today, due_date=today), S.SENT)
    late = set_state(InvoiceFactory(account=account, buyer=buyer, number="M-2",
                                    issue_date=today - datetime.timedelta(days=400),
                                    due_date=today - datetime.timedelta(days=370)), S.SENT)
    payments.payment_record(invoice_id=this_month.pk, received_on=today, amount=D("712.50"))
    user = user_in("finance", account, username="dominique")
    figures = selectors.money_figures(user=user, today=today)
    assert figures["invoiced_month"] == D("3712.50") and figures["received_month"] == D("712.50")
    assert figures["outstanding"] == D("3000.00") + late.payable_amount
    assert figures["overdue"] == late.payable_amount
    assert len(figures["months"]) == 12 and figures["months"][-1]["invoiced"] == D("3712.50")
    client.force_login(user)
    home = client.get("/").content.decode()
    assert 'id="money-figures"' in home and "<svg" in home


def _from_scratch(invoice) -> Decimal:
    """What is left to pay, added up again from the credit notes and payments."""
    from invoicing.models import Invoice

    invoice = Invoice.objects.get(pk=invoice.pk)
    due = payments.balance(invoice)
    credited = sum((note.total for note in invoice.credit_notes.exclude(number="")
                    .exclude(state__in=(*selectors.NOT_OWED, S.REFUSED))), Decimal("0.00"))
    return due.invoiced - credited - due.received


def _figures_as_kept(account) -> tuple[dict, dict, dict, dict]:
    """What the database keeps (triggers): per (buyer, due date) open, per (buyer, month)
    invoiced and settled, per (buyer, month) received; zero rows left out."""
    from finance.models import ReceivedMonth
    from invoicing.models import MonthTotal, OpenAmount

    open_ = {(r.buyer_id, r.due_date): (r.amount, r.invoices)
             for r in OpenAmount.objects.filter(account=account) if r.invoices}
    months = {(r.buyer_id, r.month): (r.invoiced, r.settled, r.settled_days)
              for r in MonthTotal.objects.filter(account=account)
              if r.invoiced or r.settled or r.settled_days}
    received = {(r.buyer_id, r.month): r.received
                for r in ReceivedMonth.objects.filter(account=account) if r.received}
    from invoicing.models import OpenMonth

    by_month = {(r.buyer_id, r.due_month): (r.amount, r.invoices)
                for r in OpenMonth.objects.filter(account=account) if r.invoices}
    return open_, months, received, by_month


def _figures_from_scratch(account) -> tuple[dict, dict, dict, dict]:
    """The same, added up again from the invoices and payments."""
    from finance.models import Payment
    from invoicing.models import REMAINING, Invoice, OpenAmount

    open_, months, received = {}, {}, {}
    issued = (Invoice.objects.filter(account=account).exclude(number="")
              .exclude(state__in=selectors.NOT_OWED).annotate(left=REMAINING))
    for invoice in issued:
        key = (invoice.buyer_id, invoice.issue_date.replace(day=1))
        signed = -invoice.total if invoice.kind == "credit_note" else invoice.total
        invoiced, settled, days = months.get(key, (D(0), 0, 0))
        months[key] = (invoiced + signed, settled, days)
        if invoice.kind != "invoice":
            continue
        if invoice.left > 0:
            key = (invoice.buyer_id, invoice.due_date or OpenAmount.NO_DUE_DATE)
            amount, count = open_.get(key, (D(0), 0))
            open_[key] = (amount + invoice.left, count + 1)
        elif (invoice.received_amount or 0) > 0:
            last = max(p.received_on for p in invoice.payments.all()
                       if not p.is_reversal and not hasattr(p, "reversed_by"))
            key = (invoice.buyer_id, last.replace(day=1))
            invoiced, settled, days = months.get(key, (D(0), 0, 0))
            months[key] = (invoiced, settled + 1, days + (last - invoice.issue_date).days)
    for payment in Payment.objects.filter(account=account).select_related("invoice"):
        key = (payment.invoice.buyer_id, payment.received_on.replace(day=1))
        received[key] = received.get(key, D(0)) + payment.amount
    months = {k: v for k, v in months.items() if any(v)}
    by_month = {}
    for (buyer, due), (amount, count) in open_.items():
        total, invoices = by_month.get((buyer, due.replace(day=1)), (D(0), 0))
        by_month[(buyer, due.replace(day=1))] = (total + amount, invoices + count)
    return open_, months, {k: v for k, v in received.items() if v}, by_month


def _kept(invoice) -> Decimal:
    from invoicing.models import REMAINING, Invoice

    return Invoice.objects.filter(pk=invoice.pk).annotate(left=REMAINING).get().left


@pytest.mark.parametrize("batched", [False, True], ids=["one by one", "in a batch"])
def test_what_is_left_to_pay_is_kept_as_credit_notes_and_payments_change(db, batched):
    """The amount the aged balance and the dashboard read (kept on the invoice) is at every step
    the one added up from scratch: a credit note deposited, then refused; a payment, then
    reversed; through the one state setter, alone or in a batch (the status sync's)."""
    import contextlib
    import unittest.mock

    from invoicing import states
    from invoicing.models import Invoice
    from invoicing.services import crediting
    from tests.factories import AccountFactory

    account = AccountFactory()
    user = user_in("finance", account, username="dominique")
    invoice = owed(account, BuyerFactory(account=account), 10, "K-1")
    note = crediting.credit_note_create(invoice_id=invoice.pk, credit=crediting.Credit(
        total=D("1000.00")))
    Invoice.objects.filter(pk=note.pk).update(number="AV-K-1")
    note = Invoice.objects.get(pk=note.pk)

    def move(to):
        with states.transitions_batched() if batched else contextlib.nullcontext():
            states.invoice_transition(invoice=note, to=to, source="webhook")
        assert _figures_as_kept(account) == _figures_from_scratch(account)

    assert _kept(invoice) == _from_scratch(invoice) == D("3712.50")
    move(S.QUEUED)  # issued, not deposited: takes nothing off yet
    assert _kept(invoice) == _from_scratch(invoice) == D("3712.50")
    move(S.SENT)
    assert _kept(invoice) == _from_scratch(invoice) == D("2712.50")
    with unittest.mock.patch("django.utils.timezone.localdate", return_value=TODAY):
        paid = payments.payment_record(invoice_id=invoice.pk, received_on=TODAY,
                                       amount=D("712.50"))
    assert _kept(invoice) == _from_scratch(invoice) == D("2000.00")
    rows, totals = selectors.ageing_balance(user=user, today=TODAY)
    assert totals["total"] == D("2000.00")
    move(S.REFUSED)  # the buyer refused the credit note: it takes nothing off
    assert _kept(invoice) == _from_scratch(invoice) == D("3000.00")
    assert _figures_as_kept(account) == _figures_from_scratch(account)
    payments.payment_reverse(payment_id=paid.pk)
    assert _kept(invoice) == _from_scratch(invoice) == D("3712.50")
    assert _figures_as_kept(account) == _figures_from_scratch(account)
    figures = selectors.money_figures(user=user, today=TODAY)
    assert figures["outstanding"] == figures["overdue"] == D("3712.50")
    assert figures["days_to_payment"] is None  # nothing settled
    with unittest.mock.patch("django.utils.timezone.localdate", return_value=TODAY):
        payments.payment_record(invoice_id=invoice.pk, received_on=TODAY, amount=D("3000.00"))
    assert _figures_as_kept(account) == _figures_from_scratch(account)
    figures = selectors.money_figures(user=user, today=TODAY)
    assert figures["outstanding"] == D("712.50")  # the refused credit note takes nothing off
    with unittest.mock.patch("django.utils.timezone.localdate", return_value=TODAY):
        payments.payment_record(invoice_id=invoice.pk, received_on=TODAY, amount=D("712.50"))
    assert _figures_as_kept(account) == _figures_from_scratch(account)
    figures = selectors.money_figures(user=user, today=TODAY)
    assert figures["outstanding"] == 0 and figures["days_to_payment"] == 40  # issued 40 days ago
    assert selectors.ageing_balance(user=user, today=TODAY) == ([], {
        **{name: 0 for name in selectors.AGEING_BUCKETS}, "total": 0, "invoices": 0})


def test_one_buyers_figures_on_demand_and_never_another_accounts(db, client):
    import unittest.mock

    from tests.factories import AccountFactory

    account = AccountFactory()
    amu = BuyerFactory(account=account)
    company = BuyerFactory(account=account, siret="51234567900017", name="ATELIERS DUPONT SAS",
                           public_sector=False)
    owed(account, amu, 10, "P-1")
    paid = owed(account, amu, 5, "P-2")
    owed(account, company, 40, "P-3", service=None)
    with unittest.mock.patch("django.utils.timezone.localdate", return_value=TODAY):
        payments.payment_record(invoice_id=paid.pk, received_on=TODAY, amount=D("3712.50"))
        user = user_in("finance", account, username="dominique")
        amu_figures = selectors.money_figures(user=user, today=TODAY, buyer=amu)
        everyone = selectors.money_figures(user=user, today=TODAY)
    assert amu_figures["outstanding"] == D("3712.50") and amu_figures["received_month"] == D(
        "3712.50")
    assert everyone["outstanding"] == D("7425.00")
    assert amu_figures["days_to_payment"] == 35  # issued 35 days before it was paid

    client.force_login(user)
    page = client.get(reverse("finance:buyer_figures"), {"buyer": amu.pk})
    text = page.content.decode()
    assert page.status_code == 200 and "P-1" in text and "P-3" not in text
    assert page.context["figures"]["outstanding"] == D("3712.50")
    assert [row["number"] for row in page.context["open"]] == ["P-1"]
    assert [p.invoice.number for p in page.context["payments"]] == ["P-2"]
    home = client.get("/").content.decode()
    assert 'id="figures-buyer"' in home and "ATELIERS DUPONT SAS" in home
    balance = client.get(reverse("finance:balance")).content.decode()
    assert f'{reverse("finance:buyer_figures")}?buyer={amu.pk}' in balance

    stranger = BuyerFactory(account=AccountFactory(), siret="13002526500013")
    refused = client.get(reverse("finance:buyer_figures"), {"buyer": stranger.pk})
    assert refused.status_code == 422 and refused.context["buyer"] is None

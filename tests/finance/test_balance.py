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
    payments.payment_reverse(payment_id=paid.pk)
    assert _kept(invoice) == _from_scratch(invoice) == D("3712.50")
    figures = selectors.money_figures(user=user, today=TODAY)
    assert figures["outstanding"] == figures["overdue"] == D("3712.50")

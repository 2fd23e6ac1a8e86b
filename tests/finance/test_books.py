"""The books: a period's FEC file read back as an accountant's software reads it: the 18 columns
in order, every entry balanced, entries numbered in sequence per journal, the sale at the
invoice's amounts (VAT per rate), a credit note reversed, a payment from the bank to the customer
and lettered with the invoice it settles, a counter-entry reversed."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from finance import books
from finance.services import payments
from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = pytest.mark.django_db

D = Decimal


def _read(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def _amount(cell: str) -> Decimal:
    return D(cell.replace(",", ".")) if cell else D(0)


@pytest.fixture
def period(db):
    from invoicing.lines import Line
    from invoicing.services import crediting
    from tests.factories import AccountFactory

    account = AccountFactory()
    today = datetime.date.today()
    sale = set_state(InvoiceFactory(account=account, number="F-BK-1", issue_date=today,
                                    due_date=today), S.SENT)  # 3 375 HT + 337,50 TVA 10 %
    mixed = InvoiceFactory(account=account, number="F-BK-2", issue_date=today, due_date=today,
                           lines=[{"description": "A", "quantity": D(2), "unit_price": D("100"),
                                   "vat_rate": D("20")},
                                  {"description": "B", "quantity": D(1), "unit_price": D("50"),
                                   "vat_rate": D("5.5")}])
    set_state(mixed, S.SENT)
    wrong = payments.payment_record(invoice_id=mixed.pk, received_on=today, amount=D("10"))
    payments.payment_reverse(payment_id=wrong.pk)
    note = crediting.credit_note_create(invoice_id=mixed.pk)
    Invoice.objects.filter(pk=note.pk).update(number="AV-BK-1", issue_date=today)
    set_state(Invoice.objects.get(pk=note.pk), S.SENT)
    InvoiceFactory(account=account, number="")  # a draft: not in the books
    payments.payment_record(invoice_id=sale.pk, received_on=today, amount=D("3712.50"),
                            reference="VIR AMU 42")
    del Line
    return account, today


def test_the_fec_reads_back_balanced_and_complete(period):
    account, today = period
    text = "".join(books.fec_text(account, today.replace(day=1), today))
    header = text.split("\n", 1)[0].split("\t")
    assert header == list(books.COLUMNS) and len(header) == 18
    rows = _read(text)
    entries: dict[str, list[dict]] = {}
    for row in rows:
        entries.setdefault(row["EcritureNum"], []).append(row)
        assert row["EcritureDate"] == today.strftime("%Y%m%d")
        assert "\t" not in row["EcritureLib"]
    for number, lines in entries.items():
        debit = sum(_amount(r["Debit"]) for r in lines)
        credit = sum(_amount(r["Credit"]) for r in lines)
        assert debit == credit, (number, debit, credit)
    sales = sorted(n for n in entries if n.startswith("VT"))
    bank = sorted(n for n in entries if n.startswith("BQ"))
    assert sales == ["VT000001", "VT000002", "VT000003"]  # the two invoices, the credit note
    assert bank == ["BQ000001", "BQ000002", "BQ000003"]  # two payments, one counter-entry
    first = entries["VT000002"]  # F-BK-1 (sorted by number: AV-BK-1 first)
    customer = next(r for r in first if r["CompteNum"] == "411000")
    assert customer["Debit"] == "3712,50" and customer["CompAuxLib"]
    assert customer["EcritureLet"] == "F-BK-1"  # settled by its payment
    vat = [r for r in first if r["CompteNum"] == "445710"]
    assert [r["Credit"] for r in vat] == ["337,50"]
    note = entries["VT000001"]
    assert next(r for r in note if r["CompteNum"] == "411000")["Credit"] != "0,00"
    rates = {r["EcritureLib"].split("TVA ")[-1] for r in note if r["CompteNum"] == "445710"}
    assert rates == {"S 20 %", "S 5.5 %"}
    receipt = next(lines for n, lines in entries.items()
                   if n.startswith("BQ") and lines[0]["PieceRef"] == "VIR AMU 42")
    assert {r["CompteNum"] for r in receipt} == {"512000", "411000"}
    bank_line = next(r for r in receipt if r["CompteNum"] == "512000")
    assert bank_line["Debit"] == "3712,50"
    assert next(r for r in receipt if r["CompteNum"] == "411000")["EcritureLet"] == "F-BK-1"
    reversal = next(lines for n, lines in entries.items()
                    if n.startswith("BQ") and lines[0]["EcritureLib"].startswith("Annulation"))
    assert next(r for r in reversal if r["CompteNum"] == "512000")["Credit"] == "10,00"


def test_the_page_streams_the_file_named_as_the_law_says(period, client):
    account, today = period
    client.force_login(user_in("finance", account, username="dominique"))
    assert client.get(reverse("finance:books")).status_code == 200
    response = client.get(reverse("finance:books"), {
        "account": account.pk, "start": today.replace(day=1).isoformat(),
        "end": today.isoformat(), "download": "1"})
    assert response.status_code == 200
    assert f'{account.siren}FEC{today.strftime("%Y%m%d")}.txt' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("JournalCode\tJournalLib\tEcritureNum")
    wrong = client.get(reverse("finance:books"), {"account": account.pk, "start": "2026-12-01",
                                                  "end": "2026-01-01", "download": "1"})
    assert wrong.status_code == 422 and "précède" in wrong.content.decode()


def test_the_vat_summary_per_month_and_rate(period, client):
    account, today = period
    summary = books.vat_summary(account, today.replace(day=1), today)
    month = today.strftime("%Y-%m")
    by_rate = {(r["category"], r["rate"]): r for r in summary if r["month"] == month}
    ten = by_rate[("S", D("10.00"))]
    assert (ten["base"], ten["vat"]) == (D("3375.00"), D("337.50"))
    assert ten["vat_received"] == D("337.50")  # paid in full, services: due on receipt
    twenty = by_rate[("S", D("20.00"))]
    assert twenty["base"] == 0 and twenty["vat"] == 0  # invoiced, then credited whole
    client.force_login(user_in("finance", account, username="dominique"))
    response = client.get(reverse("finance:books"), {
        "account": account.pk, "start": today.replace(day=1).isoformat(),
        "end": today.isoformat(), "vat": "1"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Mois" and [month, "S", "10", "3375,00", "337,50", "337,50"] in rows

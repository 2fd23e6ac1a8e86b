"""Payments received: recorded under the invoice's lock against what remains due, partial ones
adding up, each refusal said where it was typed with nothing written, a mistake reversed by a
counter-entry; a company's services invoice settled is reported to B2Brouter (`mark_as` paid)
once, even when the answer is lost."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from finance.models import Payment, PaymentReport
from finance.services import payments
from invoicing import states
from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from invoicing.services import remote
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import set_state

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = datetime.date.today()


@pytest.fixture
def issued(db):
    invoice = InvoiceFactory(number="F-PAY-1")  # the guide's: 3 712,50 TTC
    return set_state(invoice, S.SENT)


def plain(response) -> str:
    """The page's text with every kind of space written as a space (amounts use narrow ones)."""
    return (response.content.decode().replace("\u202f", " ").replace("\xa0", " ")
            .replace("&nbsp;", " "))


def record(invoice, amount, **fields):
    values = dict(invoice_id=invoice.pk, received_on=TODAY, amount=D(amount))
    return payments.payment_record(**{**values, **fields})


def test_partial_payments_add_up_and_the_history_says_who(issued):
    from tests.factories import UserFactory

    user = UserFactory(username="dominique")
    record(issued, "1000.00", user=user, reference="VIR 2026-12 UNIV AMU")
    record(issued, "2712.50", user=user, means=Payment.Means.CHEQUE)
    due = payments.balance(Invoice.objects.get(pk=issued.pk))
    assert (due.invoiced, due.received, due.remaining) == (D("3712.50"), D("3712.50"), D(0))
    assert due.settled
    texts = [e.params for e in issued.events.filter(code="payment_recorded")]
    assert [t["amount"] for t in texts] == ["1000.00", "2712.50"]
    assert issued.events.filter(code="payment_recorded", actor=user).count() == 2


@pytest.mark.parametrize("amount, fields, key, words", [
    ("3712.51", {}, "amount", "Plus que ce qui reste dû"),
    ("-5", {}, "amount", "positif"),
    ("12.345", {}, "amount", "deux décimales"),
    ("10", {"received_on": TODAY + datetime.timedelta(days=1)}, "received_on", "futur"),
    ("10", {"received_on": None}, "received_on", "obligatoire"),
])
def test_each_wrong_payment_is_refused_where_it_was_typed(issued, amount, fields, key, words):
    with pytest.raises(payments.PaymentRefused) as refused:
        record(issued, amount, **fields)
    assert words in " ".join(refused.value.problems[key])
    assert not Payment.objects.exists()


def test_a_malformed_amount_is_refused():
    with pytest.raises(payments.PaymentRefused) as refused:
        payments.payment_record(invoice_id=InvoiceFactory(number="F-X").pk, received_on=TODAY,
                                amount="douze")
    assert "amount" in refused.value.problems and not Payment.objects.exists()


def test_a_draft_a_credit_note_and_a_fully_credited_invoice_receive_nothing(issued):
    from invoicing.services import crediting

    draft = InvoiceFactory(number="")
    with pytest.raises(payments.PaymentRefused) as refused:
        record(draft, "10")
    assert "brouillon" in refused.value.problems["__all__"][0]
    note = crediting.credit_note_create(invoice_id=issued.pk)
    with pytest.raises(payments.PaymentRefused):
        record(Invoice.objects.get(pk=note.pk), "10")
    Invoice.objects.filter(pk=note.pk).update(number="AV-PAY-1")
    set_state(Invoice.objects.get(pk=note.pk), S.SENT)  # issued: the invoice is credited whole
    states.credited_amount_refresh([issued.pk])  # as the state setter does
    with pytest.raises(payments.PaymentRefused) as refused:
        record(issued, "10")
    assert "entièrement créditée" in refused.value.problems["__all__"][0]
    assert not Payment.objects.exists()


def test_the_same_form_twice_records_one_payment(issued):
    first = record(issued, "100", request_key="k" * 32)
    again = record(issued, "100", request_key="k" * 32)
    assert first.pk == again.pk and Payment.objects.count() == 1


def test_a_mistake_is_reversed_by_a_counter_entry_once(issued):
    payment = record(issued, "500")
    reversal = payments.payment_reverse(payment_id=payment.pk, note="mauvaise facture")
    assert reversal.amount == D("-500") and reversal.reverses == payment
    assert Payment.objects.count() == 2  # nothing deleted
    assert payments.balance(Invoice.objects.get(pk=issued.pk)).received == 0
    with pytest.raises(payments.PaymentRefused):
        payments.payment_reverse(payment_id=payment.pk)
    with pytest.raises(payments.PaymentRefused):
        payments.payment_reverse(payment_id=reversal.pk)
    assert issued.events.filter(code="payment_reversed").count() == 1


def test_the_page_records_and_says_refusals_beside_the_field(issued, client):
    from core.roles import FINANCE, STAFF
    from tests.invoicing.helpers import user_in

    url = reverse("finance:invoice_payments", args=[issued.pk])
    finance = user_in(FINANCE, issued.account, username="dominique")
    client.force_login(finance)
    page = client.get(url)
    assert page.status_code == 200 and "3 712,50" in plain(page)
    key = page.context["form"].initial["request_key"]
    refused = client.post(url, {"received_on": TODAY.isoformat(), "amount": "9 999,00",
                                "means": "transfer", "request_key": key})
    assert refused.status_code == 422 and "Plus que ce qui reste dû" in plain(refused)
    done = client.post(url, {"received_on": TODAY.isoformat(), "amount": "1 250,50",
                             "means": "transfer", "reference": "VIR 42", "request_key": key})
    assert done.status_code == 302
    assert Payment.objects.get().amount == D("1250.50")
    detail = plain(client.get(reverse("invoicing:detail", args=[issued.pk])))
    assert "2 462,00" in detail  # what remains, on the invoice's page
    staff = user_in(STAFF, issued.account, username="camille")
    client.force_login(staff)
    assert client.get(url).status_code == 200  # staff read
    assert client.post(url, {"received_on": TODAY.isoformat(), "amount": "1",
                             "means": "transfer"}).status_code == 403


# -- the report to B2Brouter ---------------------------------------------------------------------
def _company_invoice_sent(b2b):
    from tests.conftest import new_registered_account
    from tests.invoicing.test_companies import activate, company, draft, sent

    account = activate(new_registered_account())
    return sent(draft(account, company(account)))


def test_a_company_services_invoice_paid_is_reported_once(b2b, enqueued):
    invoice = _company_invoice_sent(b2b)
    record(invoice, str(invoice.payable_amount / 2))
    assert not PaymentReport.objects.exists()  # partly paid: not yet
    record(invoice, str(invoice.payable_amount - invoice.payable_amount / 2))
    report = PaymentReport.objects.get(invoice=invoice)
    assert report.status == PaymentReport.Status.PENDING
    # The answer to mark_as is lost: the retry reads the invoice, already paid, and stops.
    b2b.control("POST", "/_sandbox/faults", {"queue": [
        {"kind": "lost_response", "method": "POST", "path": "/invoices/*/mark_as"}]})
    import b2brouter

    with pytest.raises(b2brouter.TransientError):
        payments.payment_report(invoice_id=invoice.pk)
    assert payments.payment_report(invoice_id=invoice.pk) == "done"
    assert payments.payment_report(invoice_id=invoice.pk) == "nothing"
    report.refresh_from_db()
    assert report.status == PaymentReport.Status.DONE
    assert remote.invoice_refresh(invoice_id=invoice.pk).state == S.PAID
    assert invoice.events.filter(code="payment_reported").count() == 1


def test_a_public_buyers_payment_is_recorded_not_reported(issued, enqueued):
    record(issued, "3712.50")
    assert not PaymentReport.objects.exists()


def test_the_platforms_word_and_ours_side_by_side(issued, client):
    """Chorus Pro says "mise en paiement" while nothing was received here: flagged; once the
    payment is recorded, the two agree."""
    from core.roles import FINANCE
    from tests.invoicing.helpers import user_in

    set_state(issued, S.PAID, "MISE_EN_PAIEMENT")
    due = payments.balance(Invoice.objects.get(pk=issued.pk))
    assert payments.payment_difference(issued, due) == "unrecorded"
    client.force_login(user_in(FINANCE, issued.account, username="dominique"))
    url = reverse("finance:invoice_payments", args=[issued.pk])
    assert "il reste un montant dû ici" in plain(client.get(url))
    record(issued, "3712.50")
    assert payments.payment_difference(issued, payments.balance(Invoice.objects.get(pk=issued.pk))) == ""
    assert "payment-difference" not in plain(client.get(url))


def test_settled_here_before_chorus_pro_says_so(issued):
    record(issued, "3712.50")
    assert payments.payment_difference(issued, payments.balance(Invoice.objects.get(pk=issued.pk))) == "unreported"


def test_a_report_whose_task_gave_up_is_handed_to_a_worker_again(issued, enqueued, settings):
    """The report's task waits for the deposit by retrying, and its retries run out; or it is
    lost with a worker. Once the invoice is deposited, the beat hands it over again, once per
    window, never an invoice not deposited, never a report done."""
    import datetime as dt

    from django.utils import timezone

    settings.HOUSEKEEPING_RETRY_AFTER = 900
    old = timezone.now() - dt.timedelta(hours=2)
    waiting = PaymentReport.objects.create(invoice=issued, paid_on=TODAY)
    not_deposited = PaymentReport.objects.create(
        invoice=set_state(InvoiceFactory(account=issued.account, number="F-PAY-Q"), S.QUEUED),
        paid_on=TODAY)
    done = PaymentReport.objects.create(
        invoice=set_state(InvoiceFactory(account=issued.account, number="F-PAY-D"), S.SENT),
        paid_on=TODAY, status=PaymentReport.Status.DONE)
    fresh = PaymentReport.objects.create(  # its own task is still on it
        invoice=set_state(InvoiceFactory(account=issued.account, number="F-PAY-F"), S.SENT),
        paid_on=TODAY)
    PaymentReport.objects.filter(pk__in=[waiting.pk, not_deposited.pk, done.pk]).update(
        created_at=old, tried_at=old)
    for remote_id, pk in enumerate([issued.pk, done.invoice_id, fresh.invoice_id], start=4242):
        Invoice.objects.filter(pk=pk).update(remote_id=remote_id)
    assert payments.payment_reports_resume() == 1
    enqueued[payments.REPORT_TASK].assert_called_once_with(issued.pk)
    assert payments.payment_reports_resume() == 0  # not again within the window
    assert fresh.pk and not_deposited.pk and done.pk


def test_one_transfer_for_several_invoices_all_or_nothing(issued, client):
    """From the buyer's page, one transfer shared among its invoices: recorded together under
    one reference; a share too large, or shares that do not make the transfer, each said where
    it was typed and nothing recorded; the same form twice records once."""
    from core.roles import FINANCE
    from tests.invoicing.helpers import user_in

    second = set_state(InvoiceFactory(account=issued.account, buyer=issued.buyer,
                                      service=issued.service, number="F-PAY-2"), S.SENT)
    client.force_login(user_in(FINANCE, issued.account, username="dominique"))
    url = reverse("finance:buyer_transfer", args=[issued.buyer_id])
    form = {"received_on": TODAY.isoformat(), "total": "5 000,00", "means": "transfer",
            "reference": "VIR AMU LOT 12", "request_key": "t" * 32}
    too_much = client.post(url, {**form, f"amount-{issued.pk}": "3 712,50",
                                 f"amount-{second.pk}": "3 800,00", "total": "7 512,50"})
    assert too_much.status_code == 422 and not Payment.objects.exists()
    row = next(r for r in too_much.context["open"] if r["pk"] == second.pk)
    assert "Plus que ce qui reste dû" in row["errors"][0] and row["typed"] == "3 800,00"
    wrong_total = client.post(url, {**form, f"amount-{issued.pk}": "3 712,50",
                                    f"amount-{second.pk}": "1 000,00"})
    assert "ne font pas le montant du virement" in wrong_total.context["transfer"].errors[
        "total"][0]
    assert not Payment.objects.exists()
    shares = {**form, "total": "4 712,50", f"amount-{issued.pk}": "3 712,50",
              f"amount-{second.pk}": "1 000,00"}
    done = client.post(url, shares)
    assert done.status_code == 302
    assert sorted(Payment.objects.values_list("invoice__number", "amount", "reference")) == [
        ("F-PAY-1", D("3712.50"), "VIR AMU LOT 12"), ("F-PAY-2", D("1000.00"), "VIR AMU LOT 12")]
    assert client.post(url, shares).status_code == 302  # a double click: the same, once
    assert Payment.objects.count() == 2
    page = client.get(done["Location"])
    assert "2 paiements enregistrés sous la référence « VIR AMU LOT 12 »" in plain(page)
    assert [r["number"] for r in page.context["open"]] == ["F-PAY-2"]  # settled: gone


def test_staff_cannot_record_a_transfer(issued, client):
    from tests.invoicing.helpers import user_in

    client.force_login(user_in("staff", issued.account, username="camille"))
    url = reverse("finance:buyer_transfer", args=[issued.buyer_id])
    response = client.post(url, {"received_on": TODAY.isoformat(), "total": "10",
                                  "means": "transfer", f"amount-{issued.pk}": "10"})
    assert response.status_code == 403 and not Payment.objects.exists()
    page = client.get(reverse("finance:buyer_figures"), {"buyer": issued.buyer_id})
    assert 'id="transfer-form"' not in page.content.decode()


def test_no_payment_card_on_a_draft_nor_an_invoice_not_yet_deposited(issued, client):
    from core.roles import FINANCE
    from tests.invoicing.helpers import user_in

    client.force_login(user_in(FINANCE, issued.account, username="dominique"))
    assert 'id="invoice-balance"' in client.get(f"/invoices/{issued.pk}/").content.decode()
    queued = set_state(InvoiceFactory(account=issued.account, number="F-PAY-Q1"), S.QUEUED)
    draft = InvoiceFactory(account=issued.account, number="")
    for invoice in (queued, draft):
        assert 'id="invoice-balance"' not in client.get(
            f"/invoices/{invoice.pk}/").content.decode()
        page = client.get(reverse("finance:invoice_payments", args=[invoice.pk])).content.decode()
        assert 'id="payment-not-yet"' in page and 'id="payment-form"' not in page

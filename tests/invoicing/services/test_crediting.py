"""Credit notes never credit more than their invoice says, in amount and per line in quantity;
partial ones add up to at most the whole; every corrective action is made once however often
it is asked for (double clicks, two requests at once)."""

from decimal import Decimal

import pytest

from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from invoicing.services import crediting, drafts, submission
from invoicing.services.errors import InvoiceActionError, InvoiceCheckFailed
from tests.factories import AccountFactory, BuyerFactory, InvoiceFactory
from tests.invoicing.helpers import set_state
from tests.support.threads import at_once

pytestmark = pytest.mark.django_db

TWO_LINES = [
    {"description": "Cocktail Dinatoire", "quantity": Decimal("135"), "unit_price": Decimal("25.00"),
     "vat_rate": Decimal("10")},
    {"description": "Location de salle", "quantity": Decimal("2"), "unit_price": Decimal("400.00"),
     "vat_rate": Decimal("20")},
]


@pytest.fixture
def account():
    return AccountFactory(invoice_number_prefix="F2026-")


@pytest.fixture
def deposited(account):
    """An issued invoice (number F2026-00100), deposited at Chorus Pro: 3 375 + 800 HT."""
    return set_state(InvoiceFactory(account=account, number="F2026-00100", lines=TWO_LINES), S.SENT)


def line_of(invoice, description):
    return invoice.lines.get(description=description)


def test_a_full_credit_note_copies_the_lines_and_references_them(deposited):
    note = crediting.credit_note_create(invoice_id=deposited.pk)
    assert note.kind == Invoice.Kind.CREDIT_NOTE and note.state == S.DRAFT and note.number == ""
    assert note.credited_invoice == deposited
    assert note.total == deposited.total
    assert {line.credited_line_id for line in note.lines.all()} == {
        line.pk for line in deposited.lines.all()}
    status = crediting.credit_status(deposited)
    assert status.total_remaining == 0 and status.fully_credited


def test_a_fully_credited_invoice_is_not_credited_again(deposited):
    crediting.credit_note_create(invoice_id=deposited.pk)
    with pytest.raises(InvoiceActionError, match="entièrement créditée"):
        crediting.credit_note_create(invoice_id=deposited.pk)
    assert deposited.credit_notes.count() == 1


def test_partial_credit_notes_add_up_to_at_most_the_invoice(deposited):
    cocktail = line_of(deposited, "Cocktail Dinatoire")
    room = line_of(deposited, "Location de salle")
    first = crediting.credit_note_create(invoice_id=deposited.pk,
                                         credit=crediting.Credit(quantities={cocktail.pk: Decimal("35"), room.pk: 0}))
    assert first.total == Decimal("962.50")  # 35 x 25 = 875 HT + 10 %
    status = crediting.credit_status(deposited)
    assert status.total_remaining == deposited.total - Decimal("962.50")
    assert [c.remaining for c in status.lines] == [Decimal("100"), Decimal("2")]
    with pytest.raises(InvoiceActionError, match="Au plus 100"):
        crediting.credit_note_create(invoice_id=deposited.pk,
                                     credit=crediting.Credit(quantities={cocktail.pk: Decimal("101")}))
    rest = crediting.credit_note_create(invoice_id=deposited.pk)  # all that remains
    assert first.total + rest.total == deposited.total
    assert crediting.credit_status(deposited).fully_credited


def test_the_last_part_of_a_line_credited_in_parts_lands_on_its_amount(account):
    """3 x 33.33 = 99.99: half (1.5) rounds to 50.00, so the other half at the same price would
    make 100.00. The last part is priced to land on 49.99: the parts add up to the line."""
    invoice = set_state(InvoiceFactory(account=account, number="F2026-00200", lines=[
        {"description": "B", "quantity": Decimal("3"), "unit_price": Decimal("33.33"),
         "vat_rate": Decimal("10")}]), S.SENT)
    row = invoice.lines.get()
    first = crediting.credit_note_create(invoice_id=invoice.pk, credit=crediting.Credit(quantities={row.pk: Decimal("1.5")}))
    rest = crediting.credit_note_create(invoice_id=invoice.pk)
    parts = [first.lines.get(), rest.lines.get()]
    assert [p.quantity for p in parts] == [Decimal("1.5"), Decimal("1.5")]
    assert sum(p.line_total for p in parts) == row.line_total == Decimal("99.99")
    assert first.subtotal + rest.subtotal == invoice.subtotal
    assert first.total + rest.total <= invoice.total + crediting.VAT_ROUNDING_SLACK


def test_a_credit_note_edited_beyond_what_remains_is_refused_when_issued(deposited, enqueued):
    from invoicing.lines import Line, lines_of

    note = crediting.credit_note_create(invoice_id=deposited.pk,
                                        credit=crediting.Credit(quantities={line_of(deposited, "Location de salle").pk: 1}))
    # The draft's lines written behind the forms' back: the quantity raised, a line added that
    # credits nothing of the invoice, and the buyer changed.
    lines = [Line(**{**line.__dict__, "quantity": Decimal("3")}) for line in lines_of(note)]
    lines.append(Line(description="Geste commercial", quantity=Decimal(1),
                      unit_price=Decimal("9999"), vat_rate=Decimal("20")))
    note.lines.all().delete()
    for position, line in enumerate(lines, start=1):
        line.row(invoice=note, position=position).save()
    drafts.invoice_recompute_totals(invoice=note)
    other = BuyerFactory(account=note.account, siret="21690123100011", name="COMMUNE DE LYON")
    Invoice.objects.filter(pk=note.pk).update(buyer=other, service=None)
    with pytest.raises(InvoiceCheckFailed) as error:
        submission.invoice_request_send(invoice_id=note.pk)
    assert "lines-0-quantity" in error.value.problems
    assert "lines-1-description" in error.value.problems  # credits no line of the invoice
    assert any("garde l'acheteur" in m for m in error.value.problems["__all__"])
    assert any("dépasse" in m for m in error.value.problems["__all__"])  # and the amount
    note.refresh_from_db()
    assert note.state == S.DRAFT and note.number == ""


def test_a_draft_credit_note_keeps_its_invoices_buyer_service_and_prices(deposited):
    """The draft form of an invoice cannot change a credit note: only what it credits changes
    (`credit_note_update`), under its invoice's lock, within what remains."""
    from tests.factories import BuyerFactory as Buyers

    note = crediting.credit_note_create(invoice_id=deposited.pk)
    other = Buyers(account=note.account, siret="21690123100011", name="COMMUNE DE LYON")
    data = drafts.DraftData(buyer=other, service=None, issue_date=note.issue_date,
                            due_date=note.due_date, po_number="X", iban=note.iban)
    with pytest.raises(InvoiceActionError, match="garde l'acheteur"):
        drafts.draft_update(invoice_id=note.pk, data=data, lines=lines_of_note(note))
    room = line_of(deposited, "Location de salle")
    cocktail = line_of(deposited, "Cocktail Dinatoire")
    changed = crediting.credit_note_update(credit_note_id=note.pk, credit=crediting.Credit(
        quantities={room.pk: Decimal(1)}, amounts={cocktail.pk: Decimal("100.00")}))
    assert changed.buyer_id == deposited.buyer_id and changed.service_id == deposited.service_id
    rows = list(changed.lines.order_by("position"))
    assert [(r.credited_line_id, r.quantity, r.unit_price, bool(r.credit_by_amount))
            for r in rows] == [(cocktail.pk, 1, Decimal("100.00"), True),
                               (room.pk, 1, room.unit_price, False)]
    status = crediting.credit_status(deposited)
    by_line = {c.line.pk: c for c in status.lines}
    assert by_line[cocktail.pk].remaining == cocktail.quantity  # an amount leaves the quantity
    assert by_line[cocktail.pk].remaining_amount == cocktail.line_total - Decimal("100.00")
    with pytest.raises(crediting.CreditRefused) as refused:
        crediting.credit_note_update(credit_note_id=note.pk, credit=crediting.Credit(
            amounts={room.pk: room.line_total + Decimal("0.01")}))
    assert f"amount-{room.pk}" in refused.value.problems
    assert list(note.lines.values_list("pk", flat=True)) == [r.pk for r in rows]  # unchanged


def test_a_total_including_vat_is_shared_among_the_lines(deposited):
    note = crediting.credit_note_create(invoice_id=deposited.pk,
                                        credit=crediting.Credit(total=Decimal("500.00")))
    assert abs(note.total - Decimal("500.00")) <= Decimal("0.01") * 2  # VAT rounded per rate
    assert all(line.credit_by_amount for line in note.lines.all())
    with pytest.raises(crediting.CreditRefused) as refused:
        crediting.credit_note_create(invoice_id=deposited.pk, credit=crediting.Credit(
            total=deposited.total))  # more than what remains now
    assert "total" in refused.value.problems


def test_nothing_typed_credits_nothing(deposited):
    with pytest.raises(crediting.CreditRefused) as refused:
        crediting.credit_note_create(invoice_id=deposited.pk, credit=crediting.Credit())
    assert "Indiquez ce qui est crédité" in refused.value.problems["__all__"][0]


def lines_of_note(note):
    from invoicing.lines import lines_of

    return lines_of(note)


def test_a_discarded_draft_credit_note_frees_what_it_held(deposited):
    note = crediting.credit_note_create(invoice_id=deposited.pk)
    drafts.draft_discard(invoice_id=note.pk)
    assert crediting.credit_status(deposited).total_remaining == deposited.total
    crediting.credit_note_create(invoice_id=deposited.pk)


def test_a_double_click_makes_one_credit_note(deposited):
    key = "b" * 32
    first = crediting.credit_note_create(invoice_id=deposited.pk,
                                         credit=crediting.Credit(quantities={line_of(deposited, "Location de salle").pk: 1}),
                                         request_key=key)
    again = crediting.credit_note_create(invoice_id=deposited.pk,
                                         credit=crediting.Credit(quantities={line_of(deposited, "Location de salle").pk: 1}),
                                         request_key=key)
    assert again.pk == first.pk and deposited.credit_notes.count() == 1


@pytest.mark.parametrize("state", [S.DRAFT, S.QUEUED, S.FAILED, S.ERROR])
def test_no_credit_note_before_deposit(account, state):
    invoice = set_state(InvoiceFactory(account=account), state)
    with pytest.raises(InvoiceActionError):
        crediting.credit_note_create(invoice_id=invoice.pk)


def test_no_credit_note_of_a_credit_note(deposited):
    note = crediting.credit_note_create(invoice_id=deposited.pk)
    Invoice.objects.filter(pk=note.pk).update(number="F2026-00101", state=S.SENT)
    with pytest.raises(InvoiceActionError):
        crediting.credit_note_create(invoice_id=note.pk)


def test_a_rejection_is_replaced_once_however_often_it_is_asked(account):
    invoice = set_state(InvoiceFactory(account=account, number="F2026-00050"), S.REFUSED, "REJETEE")
    note, replacement = crediting.rejection_replace(invoice_id=invoice.pk)
    assert note.credited_invoice == invoice and note.total == invoice.total
    assert replacement.kind == Invoice.Kind.INVOICE and replacement.replaces == invoice
    assert replacement.total == invoice.total and replacement.state == S.DRAFT
    assert (note.number, replacement.number) == ("", "")
    assert not crediting.can_replace(invoice)
    again = crediting.rejection_replace(invoice_id=invoice.pk)
    assert (again[0].pk, again[1].pk) == (note.pk, replacement.pk)
    assert invoice.credit_notes.count() == 1 and invoice.replacements.count() == 1


def test_a_routing_return_is_not_replaced(account):
    invoice = set_state(InvoiceFactory(account=account), S.REFUSED, "A_RECYCLER")
    with pytest.raises(InvoiceActionError):
        crediting.rejection_replace(invoice_id=invoice.pk)


def test_a_rejected_credit_note_no_longer_counts(deposited):
    note = crediting.credit_note_create(invoice_id=deposited.pk)
    Invoice.objects.filter(pk=note.pk).update(number="F2026-00101", state=S.REFUSED,
                                              chorus_status="REJETEE")
    assert crediting.credit_status(deposited).total_remaining == deposited.total


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_never_both_credit_the_whole_invoice(monkeypatch):
    import time

    read = crediting.credit_status

    def slow_read(*args, **kwargs):  # widens the window between reading and writing
        status = read(*args, **kwargs)
        time.sleep(0.2)
        return status

    monkeypatch.setattr(crediting, "credit_status", slow_read)
    account = AccountFactory(invoice_number_prefix="R-")
    invoice = set_state(InvoiceFactory(account=account, number="R-00001"), S.SENT)
    outcomes = at_once(lambda: crediting.credit_note_create(invoice_id=invoice.pk), 4)
    made = [o for o in outcomes if isinstance(o, Invoice)]
    refused = [o for o in outcomes if isinstance(o, InvoiceActionError)]
    assert len(made) == 1 and len(refused) == 3, outcomes
    assert crediting.credit_status(invoice).total_credited == invoice.total

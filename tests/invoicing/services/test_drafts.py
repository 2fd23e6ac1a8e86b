"""Drafts: numbers from the account's sequence, create and edit with lines, credit notes, returns."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from invoicing.lines import Line
from invoicing.models import Invoice, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import drafts
from invoicing.services.errors import InvoiceActionError
from tests.factories import AccountFactory, BuyerFactory, InvoiceFactory, ServiceFactory
from tests.invoicing.helpers import set_state

pytestmark = pytest.mark.django_db


GUIDE_LINE = Line(description="Cocktail Dinatoire", quantity=Decimal("135"),
                      unit_price=Decimal("25.00"), vat_rate=Decimal("10"))


@pytest.fixture
def account():
    return AccountFactory(invoice_number_prefix="F2026-", next_invoice_sequence=1,
                          payment_terms_days=45)


def guide_data(account) -> drafts.DraftData:
    buyer = BuyerFactory(account=account)
    return drafts.DraftData(buyer=buyer, service=ServiceFactory(buyer=buyer), po_number="0123456",
                            issue_date=datetime.date(2025, 6, 18),
                            due_date=datetime.date(2025, 7, 18), iban=account.iban)


def test_defaults_follow_the_account(account):
    defaults = drafts.invoice_defaults(account=account, today=datetime.date(2025, 6, 18))
    assert defaults["number"] == "F2026-00001"
    assert defaults["due_date"] == datetime.date(2025, 8, 2)
    assert defaults["iban"] == account.iban
    assert "#PMT#" in defaults["notes"] and "40 €" in defaults["notes"] and "#PMD#" in defaults["notes"]


def test_the_proposed_number_skips_numbers_already_taken(account):
    InvoiceFactory(account=account, number="F2026-00001")
    assert drafts.invoice_number_proposed(account=account) == "F2026-00002"


def test_creating_takes_the_next_number_and_moves_the_sequence(account):
    first = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE])
    second = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE])
    assert (first.number, second.number) == ("F2026-00001", "F2026-00002")
    account.refresh_from_db()
    assert account.next_invoice_sequence == 3
    assert first.total == Decimal("3712.50") and first.state == S.DRAFT
    assert first.buyer_reference == "ESR_MISSION_FACTURES_DEPLACEMENTS"


def test_a_number_typed_by_hand_is_kept_and_checked_for_uniqueness(account):
    data = guide_data(account)
    data.number = "SPECIAL-1"
    invoice = drafts.draft_create(account=account, data=data, lines=[GUIDE_LINE], from_sequence=False)
    assert invoice.number == "SPECIAL-1"
    with pytest.raises(ValidationError) as error:
        drafts.draft_create(account=account, data=data, lines=[GUIDE_LINE], from_sequence=False)
    assert "number" in error.value.message_dict
    account.refresh_from_db()
    assert account.next_invoice_sequence == 1


def test_an_invalid_line_saves_nothing(account):
    bad = Line(description="x", quantity=Decimal("-1"), unit_price=Decimal("1"),
                   vat_rate=Decimal("20"))
    with pytest.raises(ValidationError):
        drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE, bad])
    assert not Invoice.objects.exists()
    account.refresh_from_db()
    assert account.next_invoice_sequence == 1


def test_updating_replaces_lines_and_recomputes_totals(account):
    invoice = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE])
    data = guide_data(account)
    data.number = invoice.number
    drafts.draft_update(invoice_id=invoice.pk, data=data, lines=[
        Line(description="a", quantity=Decimal("2"), unit_price=Decimal("10"), vat_rate=Decimal("20")),
    ])
    invoice.refresh_from_db()
    assert invoice.lines.count() == 1
    assert (invoice.subtotal, invoice.tax_amount, invoice.total) == (
        Decimal("20.00"), Decimal("4.00"), Decimal("24.00"))
    assert invoice.events.filter(kind=InvoiceEvent.Kind.NOTE).exists()


def test_a_sent_invoice_is_not_updated(account):
    invoice = InvoiceFactory(account=account)
    set_state(invoice, S.SENT)
    with pytest.raises(InvoiceActionError):
        drafts.draft_update(invoice_id=invoice.pk, data=guide_data(account), lines=[])


def test_a_failed_invoice_is_still_editable(account):
    invoice = set_state(InvoiceFactory(account=account), S.FAILED)
    data = guide_data(account)
    data.number = invoice.number
    drafts.draft_update(invoice_id=invoice.pk, data=data, lines=[GUIDE_LINE])


def test_a_credit_note_copies_the_invoice_and_references_it(account):
    invoice = set_state(InvoiceFactory(account=account, number="F2026-00099"), S.ACCEPTED)
    note = drafts.credit_note_create(invoice_id=invoice.pk)
    assert note.kind == Invoice.Kind.CREDIT_NOTE and note.state == S.DRAFT
    assert note.credited_invoice == invoice
    assert note.number == "F2026-00001"
    assert (note.buyer, note.service, note.po_number) == (invoice.buyer, invoice.service, "0123456")
    assert note.total == invoice.total
    assert [line.description for line in note.lines.all()] == ["Cocktail Dinatoire"]


@pytest.mark.parametrize("state", [S.DRAFT, S.QUEUED, S.FAILED, S.ERROR])
def test_no_credit_note_before_deposit(account, state):
    invoice = set_state(InvoiceFactory(account=account), state)
    with pytest.raises(InvoiceActionError):
        drafts.credit_note_create(invoice_id=invoice.pk)


def test_no_credit_note_of_a_credit_note(account):
    invoice = set_state(InvoiceFactory(account=account), S.SENT)
    note = set_state(drafts.credit_note_create(invoice_id=invoice.pk), S.SENT)
    with pytest.raises(InvoiceActionError):
        drafts.credit_note_create(invoice_id=note.pk)


def test_a_rejection_is_replaced_by_a_credit_note_and_a_new_invoice(account):
    invoice = set_state(InvoiceFactory(account=account, number="F2026-00050"), S.REFUSED, "REJETEE")
    note, replacement = drafts.rejection_replace(invoice_id=invoice.pk)
    assert note.credited_invoice == invoice
    assert replacement.kind == Invoice.Kind.INVOICE and replacement.credited_invoice is None
    assert {note.number, replacement.number} == {"F2026-00001", "F2026-00002"}
    assert replacement.total == invoice.total and replacement.state == S.DRAFT


def test_a_routing_return_is_not_replaced(account):
    invoice = set_state(InvoiceFactory(account=account), S.REFUSED, "A_RECYCLER")
    with pytest.raises(InvoiceActionError):
        drafts.rejection_replace(invoice_id=invoice.pk)


def test_a_routing_return_gets_its_routing_fixed_and_nothing_else(account):
    invoice = set_state(InvoiceFactory(account=account), S.REFUSED, "A_RECYCLER")
    other = ServiceFactory(buyer=invoice.buyer, code="ESR_AUTRE")
    fixed = drafts.invoice_fix_routing(invoice_id=invoice.pk, service=other, po_number="0999",
                                       contract_reference="M-2025-1")
    assert (fixed.buyer_reference, fixed.po_number, fixed.contract_reference) == (
        "ESR_AUTRE", "0999", "M-2025-1")
    assert fixed.number == invoice.number and fixed.state == S.REFUSED


def test_only_a_routing_return_gets_its_routing_fixed(account):
    invoice = set_state(InvoiceFactory(account=account), S.REFUSED, "REJETEE")
    with pytest.raises(InvoiceActionError):
        drafts.invoice_fix_routing(invoice_id=invoice.pk, service=None, po_number="",
                                   contract_reference="")


@pytest.mark.django_db(transaction=True)
def test_concurrent_drafts_never_share_a_number():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the row lock matters on PostgreSQL")
    account = AccountFactory(invoice_number_prefix="C-")
    numbers, errors = [], []

    def create():
        try:
            numbers.append(drafts.draft_create(account=account, data=drafts.DraftData(),
                                               lines=[]).number)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [f"C-{n:05d}" for n in range(1, 6)]


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

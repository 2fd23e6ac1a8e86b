"""Drafts: no number until issued, create, edit and discard them with their lines; routing fixes."""

import datetime
import os
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

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
    assert "number" not in defaults  # given when the invoice is issued
    assert defaults["due_date"] == datetime.date(2025, 8, 2)
    assert defaults["iban"] == account.iban
    assert "#PMT#" in defaults["notes"] and "40 €" in defaults["notes"] and "#PMD#" in defaults["notes"]


def test_a_draft_has_no_number_and_takes_none_from_the_sequence(account):
    first = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE])
    second = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE])
    assert (first.number, second.number) == ("", "")
    assert str(first) == f"brouillon n° {first.pk}"
    account.refresh_from_db()
    assert account.next_invoice_sequence == 1
    assert first.total == Decimal("3712.50") and first.state == S.DRAFT
    assert first.buyer_reference == "ESR_MISSION_FACTURES_DEPLACEMENTS"


def test_an_empty_draft_is_not_saved(account):
    with pytest.raises(ValidationError) as error:
        drafts.draft_create(account=account, data=drafts.DraftData(), lines=[])
    assert "vide" in " ".join(error.value.message_dict["__all__"])
    blank = Line(description="", quantity=Decimal(0), unit_price=Decimal(0))
    with pytest.raises(ValidationError):
        drafts.draft_create(account=account, data=drafts.DraftData(), lines=[blank])
    assert not Invoice.objects.exists()


def test_the_same_request_twice_makes_one_draft(account):
    key = "a" * 32
    first = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE],
                                request_key=key)
    again = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE],
                                request_key=key)
    assert again.pk == first.pk and Invoice.objects.count() == 1


def test_a_draft_is_discarded_with_its_lines_history_and_documents(
        account, settings, tmp_path, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    invoice = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE])
    attachment = drafts.attachment_add(invoice=invoice,
                                       upload=SimpleUploadedFile("bon.pdf", b"%PDF-1.4 x"))
    path = attachment.file.path
    assert invoice.events.exists()
    with django_capture_on_commit_callbacks(execute=True):
        drafts.draft_discard(invoice_id=invoice.pk)
    assert not Invoice.objects.filter(pk=invoice.pk).exists()
    assert not InvoiceEvent.objects.filter(invoice_id=invoice.pk).exists()
    assert not os.path.exists(path)


@pytest.mark.parametrize("state", [S.QUEUED, S.FAILED, S.SENT, S.ERROR])
def test_an_issued_invoice_is_never_discarded(account, state):
    invoice = set_state(InvoiceFactory(account=account), state)
    with pytest.raises(InvoiceActionError, match="avoir"):
        drafts.draft_discard(invoice_id=invoice.pk)
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_an_invalid_line_saves_nothing(account):
    bad = Line(description="x", quantity=Decimal("-1"), unit_price=Decimal("1"),
                   vat_rate=Decimal("20"))
    with pytest.raises(ValidationError):
        drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE, bad])
    assert not Invoice.objects.exists()


def test_updating_replaces_lines_and_recomputes_totals(account):
    invoice = drafts.draft_create(account=account, data=guide_data(account), lines=[GUIDE_LINE])
    data = guide_data(account)
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
    drafts.draft_update(invoice_id=invoice.pk, data=guide_data(account), lines=[GUIDE_LINE])
    invoice.refresh_from_db()
    assert invoice.number  # kept for its correction


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


def test_invoice_create_stores_lines_and_totals(registered_account):
    buyer = BuyerFactory(account=registered_account)
    invoice = drafts.invoice_create(
        account=registered_account, number="A-1", buyer=buyer,
        issue_date=datetime.date(2026, 1, 5), due_date=datetime.date(2026, 2, 4),
        lines=[Line("Audit", Decimal("3.5"), Decimal("12.345"), Decimal("20")),
               Line("Formation", Decimal("1"), Decimal("100"), Decimal("0"),
                                 vat_category="E", exemption_code="VATEX-FR-CGI261-4")],
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


def test_an_invoice_is_copied_into_a_new_draft_once_per_click(registered_account):
    from invoicing.models import Invoice as InvoiceModel
    from invoicing.models import InvoiceState
    from invoicing.services import drafts as drafts_service

    source = InvoiceFactory(account=registered_account)
    InvoiceModel.objects.filter(pk=source.pk).update(state=InvoiceState.PAID)
    copy = drafts_service.draft_copy(invoice_id=source.pk, request_key="k1")
    again = drafts_service.draft_copy(invoice_id=source.pk, request_key="k1")
    assert again.pk == copy.pk  # a double click makes one copy
    assert copy.state == InvoiceState.DRAFT and copy.number == ""
    assert (copy.buyer_id, copy.service_id, copy.po_number, copy.total) == (
        source.buyer_id, source.service_id, source.po_number, source.total)
    assert [(line.description, line.quantity, line.unit_price) for line in copy.lines.all()] == [
        (line.description, line.quantity, line.unit_price) for line in source.lines.all()]
    assert copy.issue_date == timezone.localdate()
    assert not copy.attachments.exists()
    assert copy.events.filter(code="copied_from").count() == 1

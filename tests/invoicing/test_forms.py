"""The invoice form, its lines and attachments: what the user types, validated."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing import totals
from invoicing.forms import (
    InvoiceForm,
    LineFormSet,
    attach_problems,
    attachment_problems,
    line_initial,
)
from invoicing.views.invoice_form import _live_totals
from tests.factories import AccountFactory, BuyerFactory, InvoiceFactory, ServiceFactory
from tests.invoicing.helpers import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return AccountFactory(invoice_number_prefix="F2026-")


def bound(account, **overrides):
    buyer = BuyerFactory(account=account)
    data = form_data(buyer, ServiceFactory(buyer=buyer), account=account, **overrides)
    return InvoiceForm(data, account=account), LineFormSet(data, prefix="lines")


def test_the_guides_invoice_is_valid(account):
    form, formset = bound(account)
    assert form.is_valid(), form.errors
    assert formset.is_valid(), formset.errors
    assert "number" not in form.fields  # given when the invoice is issued, never typed
    assert [line.quantity for line in formset.lines()] == [Decimal("135")]


def test_the_buyer_must_be_one_of_the_accounts(account):
    stranger = BuyerFactory(account=AccountFactory(name="Other"))
    form = InvoiceForm(form_data(stranger, None, account=account), account=account)
    assert not form.is_valid()
    assert "buyer" in form.errors


def test_the_service_must_be_the_buyers(account):
    buyer = BuyerFactory(account=account)
    other = BuyerFactory(account=account, siret="11000201100044", name="OTHER")
    form = InvoiceForm(form_data(buyer, ServiceFactory(buyer=other), account=account),
                       account=account)
    assert not form.is_valid()
    assert "service" in form.errors


def test_the_iban_is_checked_and_compacted(account):
    form, _ = bound(account, iban="FR76 3000 6000 0112 3456 7890 189")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["iban"] == "FR7630006000011234567890189"
    form, _ = bound(account, iban="FR7630006000011234567890188")
    assert not form.is_valid() and "iban" in form.errors


def test_due_date_before_issue_date(account):
    form, _ = bound(account, due_date="2025-06-01")
    assert not form.is_valid() and "due_date" in form.errors


def test_a_draft_may_leave_buyer_dates_and_iban_empty(account):
    data = form_data(account=account, po_number="", iban="", issue_date="", due_date="",
                     lines=[])
    form = InvoiceForm(data, account=account)
    assert form.is_valid(), form.errors


def test_the_form_knows_what_the_buyer_demands(account):
    buyer = BuyerFactory(account=account, service_code_required=True, engagement_required=False)
    form = InvoiceForm(initial={"buyer": buyer.pk}, account=account)
    assert form.service_required and not form.po_required
    service = ServiceFactory(buyer=buyer, engagement_required=True)
    form = InvoiceForm(initial={"buyer": buyer.pk, "service": service.pk}, account=account)
    assert form.po_required
    lenient = BuyerFactory(account=account, siret="11000201100044", name="L",
                           service_code_required=False, engagement_required=False,
                           service_code_or_engagement_required=True)
    assert InvoiceForm(initial={"buyer": lenient.pk}, account=account).either_required


@pytest.mark.parametrize("lines,error", [
    ([{"description": "", "quantity": "1", "unit_price": "1", "vat_category": "S",
       "vat_rate": "20"}], "description"),
    ([{"description": "x", "quantity": "1.1234567", "unit_price": "1", "vat_category": "S",
       "vat_rate": "20"}], "quantity"),
    ([{"description": "x", "quantity": "1", "unit_price": "-1", "vat_category": "S",
       "vat_rate": "20"}], "unit_price"),
    ([{"description": "x", "quantity": "1", "unit_price": "1", "vat_category": "L",
       "vat_rate": "20"}], "vat_category"),
])
def test_line_errors(account, lines, error):
    _, formset = bound(account, lines=lines)
    assert not formset.is_valid()
    assert error in formset.forms[0].errors


def test_blank_and_removed_rows_are_ignored(account):
    lines = [{"description": "a", "quantity": "1", "unit_price": "1", "vat_category": "S",
              "vat_rate": "20"},
             {"description": "", "quantity": "", "unit_price": "", "vat_category": "S",
              "vat_rate": "20,00", "exemption_code": ""}]  # the empty row the page shows
    buyer = BuyerFactory(account=account)
    data = form_data(buyer, None, account=account, lines=lines)
    data["lines-TOTAL_FORMS"] = "4"  # rows 2 and 3 were removed in the page: nothing is sent
    formset = LineFormSet(data, prefix="lines")
    assert formset.is_valid(), formset.errors
    assert len(formset.lines()) == 1


def test_french_decimals_are_read(account):
    _, formset = bound(account, lines=[{"description": "x", "quantity": "1,5",
                                        "unit_price": "3,333333", "vat_category": "S",
                                        "vat_rate": "5,5"}])
    assert formset.is_valid(), formset.errors
    line = formset.lines()[0]
    assert (line.quantity, line.unit_price, line.vat_rate) == (
        Decimal("1.5"), Decimal("3.333333"), Decimal("5.5"))


def test_an_edited_invoice_shows_amounts_as_typed(account):
    invoice = InvoiceFactory(account=account)
    initial = line_initial(invoice)[0]
    assert (str(initial["quantity"]), str(initial["unit_price"])) == ("135", "25.00")


def test_pre_send_problems_land_on_their_fields(account):
    form, formset = bound(account, lines=[
        {"description": "a", "quantity": "1", "unit_price": "1", "vat_category": "S", "vat_rate": "20"},
        {"description": "b", "quantity": "1", "unit_price": "1", "vat_category": "E", "vat_rate": "0"},
    ])
    assert form.is_valid() and formset.is_valid()
    general = attach_problems({"po_number": ["missing"], "lines-1-exemption_code": ["reason"],
                               "lines": ["no total"]}, form, formset)
    assert general == ["no total"]
    assert form.errors["po_number"] == ["missing"]
    assert formset.forms[1].errors["exemption_code"] == ["reason"]
    html = str(form["po_number"])
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_po_number_error"' in html


@pytest.mark.parametrize("name,size,fragment", [
    ("x" * 47 + ".pdf", 10, "trop long"),
    ("bon", 10, "extension"),
    ("virus.exe", 10, ".exe"),
    ("vide.pdf", 0, "vide"),
    ("gros.pdf", 10 * 1024 * 1024 + 1, "10 Mo"),
])
def test_attachments_beyond_chorus_limits(name, size, fragment):
    assert fragment in " ".join(str(p) for p in attachment_problems(name, size))


def test_attachments_within_chorus_limits():
    assert attachment_problems("x" * 46 + ".pdf", 10 * 1024 * 1024) == []
    assert attachment_problems("Bon de commande.PDF", 1) == []


def test_the_invoice_and_its_attachments_stay_under_120_mb():
    assert "120 Mo" in str(attachment_problems("a.pdf", 5 * 1024 * 1024, 116 * 1024 * 1024)[0])


amount = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999"), places=3,
                     allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(amount, amount, st.sampled_from(["0", "5.5", "10", "20"])),
                     min_size=1, max_size=5))
def test_live_totals_are_totals_compute(rows):
    account = AccountFactory.build(pk=1)
    lines = [{"description": "x", "quantity": str(q), "unit_price": str(p),
              "vat_category": "S" if r != "0" else "Z", "vat_rate": r} for q, p, r in rows]
    data = form_data(account=account, lines=lines)
    live = _live_totals(LineFormSet(data, prefix="lines"), InvoiceForm(data, account=account))
    expected = totals.compute([
        _priced(q, p, "S" if r != "0" else "Z", Decimal(r)) for q, p, r in rows])
    assert live["result"] == expected
    assert [amount for _prefix, amount in live["line_totals"]] == expected.line_totals


def _priced(quantity, unit_price, vat_category, vat_rate, exemption_reason=""):
    from invoicing.lines import Line

    return Line(quantity=quantity, unit_price=unit_price, vat_category=vat_category,
                vat_rate=vat_rate, exemption_reason=exemption_reason)

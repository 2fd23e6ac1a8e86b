"""The invoice form: numbers, drafts saved incomplete, the buyer's rules at once, live totals, checks beside each field."""

import re
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import translation

from invoicing import totals
from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from tests.factories import BuyerFactory, ServiceFactory
from tests.invoicing.helpers import form_data, set_state

pytestmark = pytest.mark.django_db


def test_the_new_invoice_form_says_the_number_comes_at_issue(staff_client, account):
    response = staff_client.get(reverse("invoicing:create"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="number"' not in html  # never typed: given at issue
    assert "Donné à l'envoi" in html and "F2026-00007" in html  # the next one, shown
    assert account.iban in html
    assert "#PMT#" not in html and "#PMD#" not in html  # the codes stay in the notes, unseen
    assert "Indemnité forfaitaire de recouvrement" in html and "40 €" in html
    assert 'hx-post="/invoices/form/totals/"' in html
    assert re.search(r'name="request_key" value="[0-9a-f]{32}"', html)


def test_creating_a_draft_takes_no_number(staff_client, account):
    buyer = BuyerFactory(account=account)
    service = ServiceFactory(buyer=buyer)
    data = form_data(buyer, service, account=account, request_key="c" * 32)
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    invoice = Invoice.objects.get(account=account)
    assert invoice.number == "" and invoice.state == S.DRAFT
    assert invoice.total == Decimal("3712.50")
    assert invoice.buyer_reference == service.code
    account.refresh_from_db()
    assert account.next_invoice_sequence == 7
    assert response.url == reverse("invoicing:edit", args=[invoice.pk])
    # The same form sent again (a double click) makes no second draft.
    assert staff_client.post(reverse("invoicing:create"), data).status_code == 302
    assert Invoice.objects.filter(account=account).count() == 1


def test_a_draft_may_be_saved_incomplete(staff_client, account):
    buyer = BuyerFactory(account=account)
    data = form_data(buyer, account=account, lines=[], po_number="", iban="", issue_date="",
                     due_date="")
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 302
    invoice = Invoice.objects.get(account=account)
    assert invoice.buyer == buyer and invoice.lines.count() == 0


@pytest.mark.parametrize("action", ["save", "check", "send"])
def test_an_empty_form_saves_nothing(staff_client, account, action):
    data = form_data(account=account, lines=[], po_number="", iban="", issue_date="",
                     due_date="", notes="", action=action)
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 422
    assert not Invoice.objects.filter(account=account).exists()
    html = response.content.decode()
    assert "vide" in html or "Envoi refusé" in html


def test_a_send_that_fails_its_checks_saves_nothing_and_shows_why(staff_client, account):
    buyer = BuyerFactory(account=account)
    data = form_data(buyer, None, account=account, po_number="", action="send")
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 422
    assert not Invoice.objects.filter(account=account).exists()
    html = response.content.decode()
    assert "rien n&#x27;a été enregistré" in html or "rien n'a été enregistré" in html
    assert 'id="id_service_error"' in html and 'id="id_po_number_error"' in html
    assert 'value="Cocktail Dinatoire"' in html  # what was typed is still there


def test_the_draft_is_edited_and_its_lines_replaced(staff_client, account, invoice):
    data = form_data(invoice.buyer, invoice.service, account=account, lines=[
        {"description": "A", "quantity": "2", "unit_price": "10", "vat_category": "S",
         "vat_rate": "20"},
        {"description": "B", "quantity": "1,5", "unit_price": "3,333333", "vat_category": "S",
         "vat_rate": "5,5"},
    ])
    response = staff_client.post(reverse("invoicing:edit", args=[invoice.pk]), data)
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert [line.description for line in invoice.lines.all()] == ["A", "B"]
    assert invoice.subtotal == Decimal("25.00")


def test_a_sent_invoice_can_no_longer_be_edited(staff_client, account, invoice):
    set_state(invoice, S.SENT)
    response = staff_client.get(reverse("invoicing:edit", args=[invoice.pk]))
    assert response.status_code == 302
    assert response.url == reverse("invoicing:detail", args=[invoice.pk])
    data = form_data(invoice.buyer, invoice.service, account=account)
    staff_client.post(reverse("invoicing:edit", args=[invoice.pk]), data)
    invoice.refresh_from_db()
    assert invoice.lines.get().quantity == Decimal("135")


def test_changing_the_buyer_shows_its_requirements(staff_client, account):
    strict = BuyerFactory(account=account, service_code_required=True, engagement_required=True)
    ServiceFactory(buyer=strict)
    relaxed = BuyerFactory(account=account, siret="11000201100044", name="RELAXED",
                           service_code_required=False, engagement_required=False)
    url = reverse("invoicing:form_routing")
    html = staff_client.get(url, {"account": account.pk, "buyer": strict.pk},
                            HTTP_HX_REQUEST="true").content.decode()
    assert html.count("obligatoire") >= 2
    assert 'aria-required="true"' in html
    assert "ESR_MISSION_FACTURES_DEPLACEMENTS" in html
    html = staff_client.get(url, {"account": account.pk, "buyer": relaxed.pk},
                            HTTP_HX_REQUEST="true").content.decode()
    assert "obligatoire" not in html
    assert '<span id="po-required" class="req" hx-swap-oob="true"></span>' in html
    assert "ESR_MISSION_FACTURES_DEPLACEMENTS" not in html


def test_a_line_row_is_added_with_the_new_form_count(staff_client):
    response = staff_client.get(reverse("invoicing:form_line"), {"lines-TOTAL_FORMS": "3"},
                                HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'name="lines-3-description"' in html
    assert 'id="id_lines-TOTAL_FORMS" value="4" hx-swap-oob="true"' in html


def test_live_totals_are_those_of_totals_compute(staff_client, account):
    lines = [
        {"description": "a", "quantity": "135", "unit_price": "25.00", "vat_category": "S",
         "vat_rate": "10"},
        {"description": "b", "quantity": "3", "unit_price": "0.335", "vat_category": "S",
         "vat_rate": "20"},
        {"description": "c", "quantity": "1", "unit_price": "99.99", "vat_category": "E",
         "vat_rate": "0", "exemption_code": "VATEX-FR-CGI261-4"},
        {"description": "", "quantity": "2", "unit_price": "1.005", "vat_category": "S",
         "vat_rate": "20"},
    ]
    data = form_data(account=account, lines=lines)
    response = staff_client.post(reverse("invoicing:form_totals"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    expected = totals.compute([
        _priced(Decimal(line["quantity"]), Decimal(line["unit_price"]),
                         line["vat_category"], Decimal(line["vat_rate"]),
                         line.get("exemption_code", ""))
        for line in lines
    ])
    with translation.override("fr"):
        for name, value in [("subtotal", expected.subtotal), ("tax", expected.tax_amount),
                            ("total", expected.total), ("payable", expected.payable_amount)]:
            assert re.search(rf'id="total-{name}">(<strong>)?{re.escape(floatformat(value, "2g"))}[ \xa0]€',
                             html), name
        for index, amount in enumerate(expected.line_totals):
            assert (f'<output id="lines-{index}-total" hx-swap-oob="true"'
                    in html)
            assert re.search(rf'id="lines-{index}-total"[^>]*>{re.escape(floatformat(amount, "2g"))}<',
                             html)
        for row in expected.breakdown:
            assert floatformat(row.amount, "2g") in html


def test_live_totals_of_an_already_paid_invoice_leave_nothing_to_pay(staff_client, account):
    data = form_data(account=account, billing_framework="A2")
    html = staff_client.post(reverse("invoicing:form_totals"), data,
                             HTTP_HX_REQUEST="true").content.decode()
    assert 'id="total-payable">0,00\xa0€' in html


def test_live_totals_skip_rows_being_typed(staff_client, account):
    lines = [{"description": "a", "quantity": "2", "unit_price": "abc", "vat_category": "S",
              "vat_rate": "20"}]
    html = staff_client.post(reverse("invoicing:form_totals"), form_data(account=account, lines=lines),
                             HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'id="lines-0-total"[^>]*>—<', html)
    assert 'id="total-total"><strong>0,00\xa0€' in html


def test_the_form_saves_checks_and_sends_in_one_click(
        staff_client, account, django_capture_on_commit_callbacks, _no_broker):
    buyer = BuyerFactory(account=account)
    service = ServiceFactory(buyer=buyer)
    data = form_data(buyer, service, account=account, action="send")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("invoicing:create"), data)
    invoice = Invoice.objects.get(account=account)
    assert response.url == reverse("invoicing:detail", args=[invoice.pk])
    assert invoice.state == S.QUEUED
    _no_broker.assert_called_once_with(invoice.pk)


def test_check_shows_each_problem_beside_its_field(staff_client, account):
    buyer = BuyerFactory(account=account)
    data = form_data(buyer, None, account=account, po_number="",
                     action="check", lines=[
                         {"description": "x", "quantity": "1", "unit_price": "10",
                          "vat_category": "E", "vat_rate": "0", "exemption_code": ""}])
    response = staff_client.post(reverse("invoicing:create"), data, follow=True)
    html = response.content.decode()
    assert "À corriger avant l'envoi" in html
    for field in ("id_service_error", "id_po_number_error", "id_lines-0-exemption_code_error"):
        assert f'id="{field}"' in html, field


def _priced(quantity, unit_price, vat_category, vat_rate, exemption_code=""):
    from invoicing.lines import Line

    return Line(quantity=quantity, unit_price=unit_price, vat_category=vat_category,
                vat_rate=vat_rate, exemption_code=exemption_code)

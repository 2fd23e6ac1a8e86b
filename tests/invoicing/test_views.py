"""The back office's views: who may do what, sending and its progress, returns, the list."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import translation

from core.roles import ADMINS, FINANCE, STAFF
from invoicing import totals
from invoicing.models import Invoice, InvoiceEvent, LegalDocument
from invoicing.models import InvoiceState as S
from tests.factories import AccountFactory, BuyerFactory, InvoiceFactory, ServiceFactory
from tests.invoicing.helpers import form_data, set_state, user_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(enqueued):
    """No message leaves for the broker: the tests look at what would be enqueued."""
    return enqueued["invoicing.invoice_submit"]


@pytest.fixture
def account():
    return AccountFactory(invoice_number_prefix="F2026-", next_invoice_sequence=7)


@pytest.fixture
def invoice(account):
    return InvoiceFactory(account=account, number="F2026-00001")


@pytest.fixture
def staff(account):
    return user_in(STAFF, account)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


# --- Roles ---------------------------------------------------------------------------------------

READS = ["list", "detail", "print", "legal_view", "legal_xml"]
WRITES_GET = ["create", "edit", "fix"]
WRITES_POST = ["send", "credit_note", "replace", "bulk_send", "form_totals"]


def _url(name: str, invoice: Invoice) -> str:
    if name in ("list", "create", "bulk_send", "form_totals", "form_line", "form_routing"):
        return reverse(f"invoicing:{name}")
    return reverse(f"invoicing:{name}", args=[invoice.pk])


@pytest.mark.parametrize("name", READS + WRITES_GET + WRITES_POST)
def test_anonymous_users_are_sent_to_sign_in(client, invoice, name):
    method = client.post if name in WRITES_POST else client.get
    response = method(_url(name, invoice))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("role", [FINANCE, STAFF, ADMINS])
@pytest.mark.parametrize("name", ["list", "detail", "print"])
def test_every_role_reads(client, account, invoice, role, name):
    client.force_login(user_in(role, account))
    assert client.get(_url(name, invoice)).status_code == 200


@pytest.mark.parametrize("name", WRITES_GET + WRITES_POST)
def test_finance_reads_only(client, account, invoice, name):
    client.force_login(user_in(FINANCE, account))
    method = client.post if name in WRITES_POST else client.get
    assert method(_url(name, invoice)).status_code == 403
    invoice.refresh_from_db()
    assert invoice.state == S.DRAFT


def test_a_user_without_role_is_refused(client, account, invoice):
    client.force_login(user_in(None, account))
    assert client.get(reverse("invoicing:list")).status_code == 403


@pytest.mark.parametrize("name", ["detail", "print", "legal_view", "legal_xml", "edit", "fix",
                                  "progress"])
def test_another_accounts_invoice_is_not_found(client, invoice, name):
    client.force_login(user_in(STAFF, AccountFactory(name="Other SAS")))
    assert client.get(_url(name, invoice), HTTP_HX_REQUEST="true").status_code == 404


@pytest.mark.parametrize("name", ["send", "credit_note", "replace"])
def test_another_accounts_invoice_cannot_be_acted_on(client, invoice, name):
    client.force_login(user_in(ADMINS, AccountFactory(name="Other SAS")))
    assert client.post(_url(name, invoice)).status_code == 404
    invoice.refresh_from_db()
    assert invoice.state == S.DRAFT


def test_another_accounts_invoices_are_not_listed(client, invoice):
    client.force_login(user_in(STAFF, AccountFactory(name="Other SAS")))
    response = client.get(reverse("invoicing:list"))
    assert invoice.number not in response.content.decode()


def test_admins_edit_and_staff_send(client, account, invoice):
    client.force_login(user_in(ADMINS, account))
    assert client.get(_url("edit", invoice)).status_code == 200


def test_home_is_the_invoice_list(staff_client, invoice):
    response = staff_client.get("/")
    assert response.status_code == 200
    assert invoice.number in response.content.decode()


# --- Creating and editing --------------------------------------------------------------------------

def test_the_new_invoice_form_proposes_number_dates_iban_and_notes(staff_client, account):
    response = staff_client.get(reverse("invoicing:create"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="F2026-00007"' in html
    assert account.iban in html
    assert "#PMT#" in html and "40 €" in html
    assert 'hx-post="/invoices/form/totals/"' in html


def test_creating_a_draft_takes_the_number_from_the_sequence(staff_client, account):
    buyer = BuyerFactory(account=account)
    service = ServiceFactory(buyer=buyer)
    data = form_data(buyer, service, account=account, number="F2026-00007", proposed="F2026-00007")
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    invoice = Invoice.objects.get(account=account)
    assert invoice.number == "F2026-00007"
    assert invoice.state == S.DRAFT
    assert invoice.total == Decimal("3712.50")
    assert invoice.buyer_reference == service.code
    account.refresh_from_db()
    assert account.next_invoice_sequence == 8
    assert response.url == reverse("invoicing:edit", args=[invoice.pk])


def test_a_draft_may_be_saved_incomplete(staff_client, account):
    data = form_data(account=account, number="", proposed="F2026-00007", lines=[], po_number="",
                     iban="", issue_date="", due_date="")
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 302
    invoice = Invoice.objects.get(account=account)
    assert invoice.buyer is None and invoice.lines.count() == 0


def test_a_taken_number_is_a_field_error(staff_client, account, invoice):
    data = form_data(account=account, number=invoice.number, proposed="F2026-00007")
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_number_error"' in html
    assert "déjà utilisé" in html
    assert re.search(r'aria-describedby="[^"]*id_number_error', html)


def test_the_draft_is_edited_and_its_lines_replaced(staff_client, account, invoice):
    data = form_data(invoice.buyer, invoice.service, account=account, number=invoice.number, lines=[
        {"description": "A", "quantity": "2", "unit_price": "10", "vat_category": "S",
         "vat_rate": "20", "exemption_reason": ""},
        {"description": "B", "quantity": "1,5", "unit_price": "3,333333", "vat_category": "S",
         "vat_rate": "5,5", "exemption_reason": ""},
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
    data = form_data(invoice.buyer, invoice.service, account=account, number=invoice.number)
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


# --- Live totals ---------------------------------------------------------------------------------

def test_live_totals_are_those_of_totals_compute(staff_client, account):
    lines = [
        {"description": "a", "quantity": "135", "unit_price": "25.00", "vat_category": "S",
         "vat_rate": "10"},
        {"description": "b", "quantity": "3", "unit_price": "0.335", "vat_category": "S",
         "vat_rate": "20"},
        {"description": "c", "quantity": "1", "unit_price": "99.99", "vat_category": "E",
         "vat_rate": "0", "exemption_reason": "Art. 261 CGI"},
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
                         line.get("exemption_reason", ""))
        for line in lines
    ])
    with translation.override("fr"):
        for name, value in [("subtotal", expected.subtotal), ("tax", expected.tax_amount),
                            ("total", expected.total), ("payable", expected.payable_amount)]:
            assert re.search(rf'id="total-{name}">(<strong>)?{re.escape(floatformat(value, "2g"))} €',
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
    assert 'id="total-payable">0,00 €' in html


def test_live_totals_skip_rows_being_typed(staff_client, account):
    lines = [{"description": "a", "quantity": "2", "unit_price": "abc", "vat_category": "S",
              "vat_rate": "20"}]
    html = staff_client.post(reverse("invoicing:form_totals"), form_data(account=account, lines=lines),
                             HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'id="lines-0-total"[^>]*>—<', html)
    assert 'id="total-total"><strong>0,00 €' in html


# --- Sending ----------------------------------------------------------------------------------------

def test_send_refuses_an_invoice_with_problems_and_points_at_the_fields(
        staff_client, account, invoice, django_capture_on_commit_callbacks):
    Invoice.objects.filter(pk=invoice.pk).update(po_number="")
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(reverse("invoicing:send", args=[invoice.pk]))
    assert response.url == reverse("invoicing:edit", args=[invoice.pk]) + "?check=1"
    assert callbacks == []
    invoice.refresh_from_db()
    assert invoice.state == S.DRAFT
    html = staff_client.get(response.url).content.decode()
    assert 'id="id_po_number_error"' in html
    assert "exige un numéro d&#x27;engagement" in html


def test_send_queues_a_checked_invoice_once_committed(
        staff_client, invoice, django_capture_on_commit_callbacks, _no_broker):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(reverse("invoicing:send", args=[invoice.pk]))
    assert response.url == reverse("invoicing:detail", args=[invoice.pk])
    assert len(callbacks) == 1
    _no_broker.assert_called_once_with(invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.QUEUED


def test_the_form_saves_checks_and_sends_in_one_click(
        staff_client, account, django_capture_on_commit_callbacks, _no_broker):
    buyer = BuyerFactory(account=account)
    service = ServiceFactory(buyer=buyer)
    data = form_data(buyer, service, account=account, proposed="F2026-00007",
                     number="F2026-00007", action="send")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("invoicing:create"), data)
    invoice = Invoice.objects.get(account=account)
    assert response.url == reverse("invoicing:detail", args=[invoice.pk])
    assert invoice.state == S.QUEUED
    _no_broker.assert_called_once_with(invoice.pk)


def test_check_shows_each_problem_beside_its_field(staff_client, account):
    buyer = BuyerFactory(account=account)
    data = form_data(buyer, None, account=account, proposed="F2026-00007", po_number="",
                     action="check", lines=[
                         {"description": "x", "quantity": "1", "unit_price": "10",
                          "vat_category": "E", "vat_rate": "0", "exemption_reason": ""}])
    response = staff_client.post(reverse("invoicing:create"), data, follow=True)
    html = response.content.decode()
    assert "À corriger avant l'envoi" in html
    for field in ("id_service_error", "id_po_number_error", "id_lines-0-exemption_reason_error"):
        assert f'id="{field}"' in html, field


def test_bulk_send_queues_only_the_invoices_that_pass_the_checks(
        staff_client, account, django_capture_on_commit_callbacks, _no_broker):
    good = [InvoiceFactory(account=account, number=f"OK-{n}") for n in range(2)]
    bad = InvoiceFactory(account=account, number="BAD-1", po_number="")
    sent = set_state(InvoiceFactory(account=account, number="SENT-1"), S.SENT)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(reverse("invoicing:bulk_send"), {
            "ids": [str(i.pk) for i in [*good, bad, sent]], "next": "/invoices/?state=draft"})
    assert response.url == "/invoices/?state=draft"
    assert len(callbacks) == 2
    assert sorted(call.args[0] for call in _no_broker.call_args_list) == sorted(i.pk for i in good)
    states = dict(Invoice.objects.values_list("number", "state"))
    assert states == {"OK-0": S.QUEUED, "OK-1": S.QUEUED, "BAD-1": S.DRAFT, "SENT-1": S.SENT}
    follow = staff_client.get(response.url).content.decode()
    assert "BAD-1" in follow and "engagement" in follow


def test_bulk_send_ignores_another_accounts_invoices(client, invoice, _no_broker):
    client.force_login(user_in(STAFF, AccountFactory(name="Other SAS")))
    client.post(reverse("invoicing:bulk_send"), {"ids": [str(invoice.pk)]})
    invoice.refresh_from_db()
    assert invoice.state == S.DRAFT
    _no_broker.assert_not_called()


def test_bulk_send_refuses_an_unsafe_next(staff_client, invoice):
    response = staff_client.post(reverse("invoicing:bulk_send"),
                                 {"ids": [], "next": "https://evil.example/"})
    assert response.url == reverse("invoicing:list")


@pytest.mark.parametrize("state", [S.QUEUED, S.SUBMITTING, S.SENDING, S.SENT, S.ACCEPTED])
def test_progress_keeps_polling_while_something_is_expected(staff_client, invoice, state):
    set_state(invoice, state)
    response = staff_client.get(reverse("invoicing:progress", args=[invoice.pk]),
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="invoice-progress"' in html
    assert 'hx-trigger="every ' in html
    assert "<html" not in html


@pytest.mark.parametrize("state,chorus", [(S.PAID, ""), (S.REFUSED, "A_RECYCLER"),
                                          (S.ERROR, ""), (S.FAILED, ""), (S.DRAFT, "")])
def test_progress_stops_polling_at_a_final_state(staff_client, invoice, state, chorus):
    set_state(invoice, state, chorus)
    response = staff_client.get(reverse("invoicing:progress", args=[invoice.pk]),
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    html = response.content.decode()
    assert 'id="invoice-progress"' in html
    assert "hx-trigger" not in html


def test_progress_without_htmx_is_the_detail_page(staff_client, invoice):
    response = staff_client.get(reverse("invoicing:progress", args=[invoice.pk]))
    assert response.url == reverse("invoicing:detail", args=[invoice.pk])


def test_detail_shows_the_timeline_with_the_exchanges(staff_client, invoice):
    InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.EXCHANGE,
                                source=InvoiceEvent.Source.WORKER, http_method="POST",
                                http_path="/accounts/1/invoices", http_status=201,
                                request_body={"invoice": {"number": invoice.number}},
                                response_body={"invoice": {"id": 99}})
    html = staff_client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert "POST /accounts/1/invoices" in html
    assert "&#x27;id&#x27;: 99" in html or "'id': 99" in html


# --- Returns and credit notes -------------------------------------------------------------------------

def test_a_credit_note_is_prepared_from_a_sent_invoice(staff_client, account, invoice):
    set_state(invoice, S.SENT)
    response = staff_client.post(reverse("invoicing:credit_note", args=[invoice.pk]))
    credit_note = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert response.url == reverse("invoicing:edit", args=[credit_note.pk])
    assert credit_note.credited_invoice == invoice
    assert credit_note.state == S.DRAFT
    assert credit_note.total == invoice.total
    assert credit_note.number == "F2026-00007"
    assert "Avoir sur la facture" in staff_client.get(response.url).content.decode()


def test_no_credit_note_from_a_draft(staff_client, invoice):
    staff_client.post(reverse("invoicing:credit_note", args=[invoice.pk]))
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()


def test_a_routing_return_is_fixed_and_resent_under_the_same_number(
        staff_client, account, invoice, django_capture_on_commit_callbacks, _no_broker):
    set_state(invoice, S.REFUSED, "A_RECYCLER", "Code service inconnu")
    other = ServiceFactory(buyer=invoice.buyer, code="ESR_AUTRE", engagement_required=False)
    page = staff_client.get(reverse("invoicing:fix", args=[invoice.pk])).content.decode()
    assert "Code service inconnu" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("invoicing:fix", args=[invoice.pk]), {
            "service": other.pk, "po_number": "0999999", "contract_reference": "M-1"})
    assert response.url == reverse("invoicing:detail", args=[invoice.pk])
    invoice.refresh_from_db()
    assert invoice.number == "F2026-00001"
    assert invoice.state == S.QUEUED
    assert invoice.submission_round == 2
    assert (invoice.buyer_reference, invoice.po_number) == ("ESR_AUTRE", "0999999")
    _no_broker.assert_called_once_with(invoice.pk)


def test_a_routing_fix_with_problems_is_not_resent(staff_client, invoice, _no_broker):
    set_state(invoice, S.REFUSED, "A_RECYCLER")
    response = staff_client.post(reverse("invoicing:fix", args=[invoice.pk]), {
        "service": invoice.service.pk, "po_number": "", "contract_reference": ""})
    assert response.url == reverse("invoicing:fix", args=[invoice.pk])
    invoice.refresh_from_db()
    assert invoice.state == S.REFUSED
    _no_broker.assert_not_called()


def test_a_rejection_becomes_a_credit_note_and_a_new_invoice_in_one_click(
        staff_client, account, invoice):
    set_state(invoice, S.REFUSED, "REJETEE", "Montant erroné")
    list_html = staff_client.get(reverse("invoicing:list")).content.decode()
    assert "Montant erroné" in list_html and "Avoir + nouvelle facture" in list_html
    response = staff_client.post(reverse("invoicing:replace", args=[invoice.pk]))
    credit_note = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    replacement = Invoice.objects.exclude(pk__in=[invoice.pk, credit_note.pk]).get()
    assert response.url == reverse("invoicing:edit", args=[replacement.pk])
    assert credit_note.credited_invoice == invoice
    assert replacement.number not in (invoice.number, credit_note.number)
    assert replacement.total == invoice.total
    assert replacement.state == S.DRAFT


def test_the_list_offers_the_fix_for_a_routing_return(staff_client, invoice):
    set_state(invoice, S.REFUSED, "A_RECYCLER", "Service inconnu")
    html = staff_client.get(reverse("invoicing:list")).content.decode()
    assert "Corriger et renvoyer" in html
    assert reverse("invoicing:fix", args=[invoice.pk]) in html
    assert "Service inconnu" in html


# --- Legal XML, print, attachments --------------------------------------------------------------

def test_the_legal_xml_is_viewed_and_downloaded(client, account, invoice):
    set_state(invoice, S.SENT)
    LegalDocument.objects.create(invoice=invoice, submission_round=1, content=b"<Invoice>x</Invoice>",
                                 sha256="a" * 64, size=20, content_type="application/xml",
                                 source_url="/attachments/download/1/x.xml")
    client.force_login(user_in(FINANCE, account))
    download = client.get(reverse("invoicing:legal_xml", args=[invoice.pk]))
    assert download.content == b"<Invoice>x</Invoice>"
    assert 'filename="F2026-00001.xml"' in download["Content-Disposition"]
    view = client.get(reverse("invoicing:legal_view", args=[invoice.pk])).content.decode()
    assert "&lt;Invoice&gt;x&lt;/Invoice&gt;" in view


def test_no_legal_xml_yet_is_a_404(staff_client, invoice):
    assert staff_client.get(reverse("invoicing:legal_xml", args=[invoice.pk])).status_code == 404


def test_the_printable_view_carries_the_legal_mentions_and_totals(staff_client, invoice):
    Invoice.objects.filter(pk=invoice.pk).update(notes="#PMD#Pénalités\n#PMT#Indemnité 40 €")
    html = staff_client.get(reverse("invoicing:print", args=[invoice.pk])).content.decode()
    assert "3\u202f712,50 €" in html or "3\xa0712,50 €" in html or "3 712,50 €" in html
    assert "<p>Indemnité 40 €</p>" in html and "#PMT#" not in html
    assert "ESR_MISSION_FACTURES_DEPLACEMENTS" in html and "0123456" in html


def test_an_attachment_within_the_limits_is_joined(staff_client, invoice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("bon-de-commande.pdf", b"%PDF-1.4 x", content_type="application/pdf")
    staff_client.post(reverse("invoicing:attachment_add", args=[invoice.pk]), {"file": upload})
    attachment = invoice.attachments.get()
    assert attachment.original_name == "bon-de-commande.pdf" and attachment.size == 10
    download = staff_client.get(reverse("invoicing:attachment", args=[invoice.pk, attachment.pk]))
    assert b"".join(download.streaming_content) == b"%PDF-1.4 x"
    staff_client.post(reverse("invoicing:attachment_delete", args=[invoice.pk, attachment.pk]))
    assert not invoice.attachments.exists()


def test_an_attachment_beyond_the_limits_is_refused(staff_client, invoice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("x" * 48 + ".exe", b"MZ", content_type="application/octet-stream")
    response = staff_client.post(reverse("invoicing:attachment_add", args=[invoice.pk]),
                                 {"file": upload}, follow=True)
    assert not invoice.attachments.exists()
    html = response.content.decode()
    assert "trop long" in html and ".exe" in html


# --- The list ---------------------------------------------------------------------------------------

@pytest.fixture
def many(account):
    buyer = BuyerFactory(account=account)
    other_buyer = BuyerFactory(account=account, siret="11000201100044", name="AUTRE ENTITE")
    invoices = []
    for n in range(12):
        invoices.append(InvoiceFactory(
            account=account, buyer=other_buyer if n % 3 == 0 else buyer,
            service=None if n % 3 == 0 else ServiceFactory(buyer=buyer),
            number=f"L-{n:03d}", po_number=f"PO{n:03d}",
            lines=[{"description": "x", "quantity": Decimal(n + 1), "unit_price": Decimal("100"),
                    "vat_rate": Decimal("20")}],
        ))
    for invoice in invoices[:4]:
        set_state(invoice, S.SENT)
    set_state(invoices[4], S.REFUSED, "REJETEE", "Montant erroné")
    return invoices


def _numbers(response) -> list[str]:
    return re.findall(r">(L-\d{3})</a>", response.content.decode())


def test_the_list_filters_by_state_buyer_dates_amounts_and_search(staff_client, many):
    url = reverse("invoicing:list")
    assert _numbers(staff_client.get(url, {"state": "sent", "sort": "number"})) == [
        "L-000", "L-001", "L-002", "L-003"]
    by_buyer = _numbers(staff_client.get(url, {"buyer": many[0].buyer.pk, "sort": "number"}))
    assert by_buyer == ["L-000", "L-003", "L-006", "L-009"]
    # totals: (n + 1) x 100 x 1.2
    amounts = _numbers(staff_client.get(url, {"amount_min": "600", "amount_max": "960",
                                              "sort": "number"}))
    assert amounts == ["L-004", "L-005", "L-006", "L-007"]
    assert _numbers(staff_client.get(url, {"q": "PO011"})) == ["L-011"]
    assert _numbers(staff_client.get(url, {"q": "l-01", "sort": "-number"})) == ["L-011", "L-010"]
    Invoice.objects.filter(number="L-005").update(issue_date="2025-01-02")
    assert _numbers(staff_client.get(url, {"date_from": "2025-01-01", "date_to": "2025-01-31"})) == [
        "L-005"]


def test_the_list_sorts(staff_client, many):
    url = reverse("invoicing:list")
    by_total = _numbers(staff_client.get(url, {"sort": "-total"}))
    assert by_total[:3] == ["L-011", "L-010", "L-009"]
    by_buyer = _numbers(staff_client.get(url, {"sort": "buyer"}))
    assert by_buyer[:4] == ["L-000", "L-003", "L-006", "L-009"]  # AUTRE ENTITE first


def test_the_list_shows_counts_and_totals_per_state(staff_client, many):
    html = staff_client.get(reverse("invoicing:list")).content.decode()
    summary = html[html.index('class="state-summary"'):html.index("</ul>", html.index('class="state-summary"'))]
    assert re.search(r"Déposée</strong>\s*<span class=\"count\">4</span>", summary, re.I)
    # 4 sent invoices: (1+2+3+4) x 120 = 1 200,00
    assert "1\u202f200,00 €" in summary or "1\xa0200,00 €" in summary


def test_the_list_paginates(staff_client, account, many, monkeypatch):
    monkeypatch.setattr("invoicing.views.invoices.PAGE_SIZE", 5)
    url = reverse("invoicing:list")
    first = _numbers(staff_client.get(url, {"sort": "number"}))
    third = _numbers(staff_client.get(url, {"sort": "number", "page": 3}))
    assert first == ["L-000", "L-001", "L-002", "L-003", "L-004"]
    assert third == ["L-010", "L-011"]


def test_the_list_answers_htmx_with_the_table_only(staff_client, many):
    response = staff_client.get(reverse("invoicing:list"), {"state": "sent"},
                                HTTP_HX_REQUEST="true", HTTP_HX_TARGET="invoice-table")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="invoice-table">')
    assert "<html" not in html


def _make(account, buyer, service, count, start):
    lines = [{"description": "x", "quantity": Decimal(1), "unit_price": Decimal("10"),
              "vat_rate": Decimal("20")}]
    for n in range(start, start + count):
        invoice = InvoiceFactory(account=account, buyer=buyer, service=service, number=f"Q-{n:04d}",
                                 lines=lines)
        if n % 4 == 0:
            set_state(invoice, S.SENT)
        elif n % 7 == 0:
            set_state(invoice, S.REFUSED, "A_RECYCLER", "service")


@pytest.mark.parametrize("query", [{}, {"state": "sent", "sort": "-total"},
                                   {"q": "Q-", "buyer": "BUYER", "amount_min": "1", "page": "2"}])
def test_the_list_query_count_does_not_grow_with_the_data(
        staff_client, account, django_assert_num_queries, query):
    buyer = BuyerFactory(account=account)
    service = ServiceFactory(buyer=buyer)
    query = {k: (str(buyer.pk) if v == "BUYER" else v) for k, v in query.items()}
    url = reverse("invoicing:list")
    _make(account, buyer, service, 10, 0)
    staff_client.get(url, query)  # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert staff_client.get(url, query).status_code == 200
    _make(account, buyer, service, 50, 10)
    with django_assert_num_queries(len(small.captured_queries)):
        assert staff_client.get(url, query).status_code == 200
    assert len(small.captured_queries) <= 9


def _priced(quantity, unit_price, vat_category, vat_rate, exemption_reason=""):
    from invoicing.lines import Line

    return Line(quantity=quantity, unit_price=unit_price, vat_category=vat_category,
                vat_rate=vat_rate, exemption_reason=exemption_reason)

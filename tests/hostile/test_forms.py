"""Hostile input on every form of the product: whatever is typed, never a 500; a bad value is a
field error beside its field; a refused form writes nothing."""

import io
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from core.roles import FINANCE
from directory.models import Buyer, Service
from invoicing.models import Invoice, InvoiceAttachment, InvoiceEvent, InvoiceLine
from invoicing.models import InvoiceState as S
from tests.factories import AccountFactory, BuyerFactory, InvoiceFactory
from tests.hostile.inputs import HEALTH, MARKUP, dates, ids, numbers, texts
from tests.invoicing.helpers import form_data, set_state, user_in

pytestmark = pytest.mark.django_db

CREATE = reverse("invoicing:create")
GUIDE_LINE = {"description": "Cocktail Dinatoire", "quantity": "135", "unit_price": "25.00",
              "vat_category": "S", "vat_rate": "10", "exemption_code": ""}

header_fields = st.fixed_dictionaries({}, optional={
    "number": texts, "proposed_number": texts, "po_number": texts, "contract_reference": texts,
    "issue_date": dates, "due_date": dates, "iban": texts, "notes": texts, "buyer": ids,
    "service": ids, "billing_framework": st.one_of(st.sampled_from(["A1", "A2"]), texts),
    "action": st.sampled_from(["save", "check", "", "<x>"]),
})
line_fields = st.fixed_dictionaries({}, optional={
    "description": texts, "quantity": numbers, "unit_price": numbers, "vat_rate": numbers,
    "vat_category": st.one_of(st.sampled_from(["S", "Z", "E", "AE", "K", "G", "O"]), texts),
    "exemption_code": texts, "article_code": texts, "unit": ids,
})
hostile_lines = st.lists(line_fields.map(lambda changes: {**GUIDE_LINE, **changes}), max_size=3)


def _rows() -> tuple[int, ...]:
    return (Invoice.objects.count(), InvoiceLine.objects.count(), InvoiceEvent.objects.count(),
            Buyer.objects.count(), Service.objects.count(), InvoiceAttachment.objects.count())


def _snapshot(invoice: Invoice) -> tuple:
    invoice = Invoice.objects.get(pk=invoice.pk)
    return (model_to_dict(invoice), [model_to_dict(line) for line in invoice.lines.all()])


# --- The invoice form and its lines -------------------------------------------------------------

@settings(max_examples=70, deadline=None, suppress_health_check=HEALTH)
@given(header=header_fields, lines=hostile_lines)
def test_creating_with_hostile_values_never_fails_nor_half_saves(staff_client, account, buyer,
                                                                 service, header, lines):
    data = {**form_data(buyer, service, account=account, lines=lines), **header}
    before = _rows()
    response = staff_client.post(CREATE, data)
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert _rows() == before, "a refused form wrote something"
        return
    assert Invoice.objects.count() == before[0] + 1
    assert staff_client.get(response.url).status_code == 200  # what was saved shows


@pytest.fixture
def draft(account, buyer, service):
    return InvoiceFactory(account=account, buyer=buyer, service=service, number="H-00099")


@settings(max_examples=50, deadline=None, suppress_health_check=HEALTH)
@given(header=header_fields, lines=hostile_lines)
def test_editing_with_hostile_values_changes_nothing_when_refused(staff_client, account, buyer,
                                                                  service, draft, header, lines):
    url = reverse("invoicing:edit", args=[draft.pk])
    data = {**form_data(buyer, service, account=account, lines=lines),
            **header}
    before, rows = _snapshot(draft), _rows()
    response = staff_client.post(url, data)
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert _snapshot(draft) == before
        assert _rows() == rows
    else:
        assert staff_client.get(url).status_code == 200


def _field_errors(response) -> dict:
    form, formset = response.context["form"], response.context["formset"]
    errors = {name: list(messages) for name, messages in form.errors.items()}
    for index, line_form in enumerate(formset.forms):
        for name, messages in line_form.errors.items():
            errors[f"lines-{index}-{name}"] = list(messages)
    return errors


@pytest.mark.parametrize("field, value", [
    ("iban", "FR7630006000011234567890188"),  # check digits
    ("iban", "FR76 <script>"),
    ("issue_date", "2025-02-30"),
    ("due_date", "2025-01-01"),  # before the issue date (2025-06-18)
    ("due_date", "18/13/2025"),
    ("notes", "a\x00b"),
    ("notes", "bip\x07"),
    ("po_number", "x" * 51),
    ("po_number", "12\x00"),
    ("contract_reference", "\x1b[31m"),
    ("buyer", "999999"),
    ("buyer", "<script>"),
    ("billing_framework", "Z9"),
])
def test_each_bad_header_value_is_a_field_error(staff_client, account, buyer, service, field,
                                                value):
    before = _rows()
    data = {**form_data(buyer, service, account=account), field: value}
    response = staff_client.post(CREATE, data)
    assert response.status_code == 422
    assert field in _field_errors(response)
    assert _rows() == before


@pytest.mark.parametrize("field, value", [
    ("quantity", "-1"),
    ("quantity", "-0.000001"),
    ("quantity", "1e30"),
    ("quantity", "9" * 40),
    ("quantity", "NaN"),
    ("quantity", ""),  # an empty quantity on a described line
    ("unit_price", "1.1234567"),  # more decimals than stored
    ("unit_price", "1e30"),
    ("unit_price", "-25"),
    ("unit_price", "Infinity"),
    ("unit_price", "vingt"),
    ("vat_rate", "1000"),
    ("vat_rate", "-5"),
    ("vat_rate", "5.555"),
    ("vat_category", "ZZ"),
    ("description", ""),  # an empty designation on a priced line
    ("description", "   "),
    ("description", "x" * 501),
    ("description", "a\x00b"),
    ("description", "tab\x0bvertical"),
    ("exemption_code", "VATEX-XX-NOPE"),
    ("article_code", "\x00"),
])
def test_each_bad_line_value_is_a_field_error(staff_client, account, buyer, service, field, value):
    before = _rows()
    response = staff_client.post(CREATE, form_data(buyer, service, account=account,
                                                   lines=[{**GUIDE_LINE, field: value}]))
    assert response.status_code == 422
    assert f"lines-0-{field}" in _field_errors(response)
    assert _rows() == before


def test_huge_amounts_that_fit_each_field_are_refused_not_overflowed(staff_client, account, buyer,
                                                                    service):
    """Quantity and price each fit their column, but not their product: the line total's."""
    before = _rows()
    line = {**GUIDE_LINE, "quantity": "9999999999999", "unit_price": "9999999999999"}
    response = staff_client.post(CREATE, form_data(buyer, service, account=account, lines=[line]))
    assert response.status_code == 422
    assert _field_errors(response)
    assert _rows() == before


def test_unicode_and_markup_are_kept_as_typed(staff_client, account, buyer, service):
    description = "𝕳𝖊𝖑𝖑𝖔 🧾 " + MARKUP[1]
    notes = MARKUP[0] + "\nÜnïcödé 漢字"
    response = staff_client.post(CREATE, form_data(
        buyer, service, account=account, notes=notes,
        lines=[{**GUIDE_LINE, "description": description}]))
    assert response.status_code == 302
    invoice = Invoice.objects.get(account=account)
    assert invoice.notes == notes
    assert invoice.lines.get().description == description


@settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
@given(header=header_fields, lines=hostile_lines, total_forms=st.one_of(ids, st.just("3")))
def test_live_totals_answer_whatever_is_typed(staff_client, account, buyer, service, header,
                                              lines, total_forms):
    data = {**form_data(buyer, service, account=account, lines=lines), **header}
    data["lines-TOTAL_FORMS"] = total_forms
    before = _rows()
    response = staff_client.post(reverse("invoicing:form_totals"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _rows() == before


@pytest.mark.parametrize("quantity, price", [("9999999999999.999999", "9999999999999.999999"),
                                             ("9999999999999", "0.000001"), ("1e-6", "1e-6")])
def test_live_totals_of_the_largest_amounts_each_field_takes(staff_client, account, buyer, quantity,
                                                             price):
    data = form_data(buyer, account=account,
                     lines=[{**GUIDE_LINE, "quantity": quantity, "unit_price": price}])
    response = staff_client.post(reverse("invoicing:form_totals"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(total_forms=ids, buyer_id=ids, service_id=ids, account_id=st.one_of(ids, st.just("")))
def test_line_and_routing_endpoints_answer_whatever_is_asked(staff_client, account, buyer,
                                                             total_forms, buyer_id, service_id,
                                                             account_id):
    line = staff_client.get(reverse("invoicing:form_line"), {"lines-TOTAL_FORMS": total_forms},
                            HTTP_HX_REQUEST="true")
    assert line.status_code == 200
    routing = staff_client.get(reverse("invoicing:form_routing"),
                               {"buyer": buyer_id, "service": service_id, "account": account_id},
                               HTTP_HX_REQUEST="true")
    assert routing.status_code in (200, 404)  # 404: an account that is not the user's


@settings(max_examples=50, deadline=None, suppress_health_check=HEALTH)
@given(params=st.fixed_dictionaries({}, optional={
    "q": texts, "state": texts, "buyer": ids, "date_from": dates, "date_to": dates,
    "amount_min": numbers, "amount_max": numbers, "sort": texts, "page": ids}))
def test_list_filters_answer_whatever_is_asked(staff_client, draft, params):
    response = staff_client.get(reverse("invoicing:list"), params)
    assert response.status_code == 200
    table = staff_client.get(reverse("invoicing:list"), params, HTTP_HX_REQUEST="true",
                             HTTP_HX_TARGET="invoice-table")
    assert table.status_code == 200


@pytest.mark.parametrize("value", ["1e999999", "-1e999999", "1e-999999", "1E+16",
                                   "99999999999999999999", "0.0000000000001"])
@pytest.mark.parametrize("page", ["invoicing:list", "invoicing:export_csv",
                                  "invoicing:export_xlsx"])
def test_an_amount_no_database_can_compare_is_a_field_error(staff_client, draft, value, page):
    """"1e999999" is a finite Decimal that PostgreSQL cannot compare: a field error beside the
    amount, the list (or the export) of nothing, never a 500 or a cut connection."""
    response = staff_client.get(reverse(page), {"amount_min": value, "amount_max": value})
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if page == "invoicing:list":
        errors = response.context["form"].errors
        assert "amount_min" in errors and "amount_max" in errors
    else:
        assert body  # a file, if empty of rows


def test_list_filter_dates_out_of_order_are_a_field_error(staff_client, draft):
    response = staff_client.get(reverse("invoicing:list"),
                                {"date_from": "2025-07-01", "date_to": "2025-06-01"})
    assert response.status_code == 200
    assert "date_to" in response.context["form"].errors


# --- Routing fix, bulk send, attachments --------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(fields=st.fixed_dictionaries({}, optional={
    "service": ids, "po_number": texts, "contract_reference": texts}))
def test_routing_fix_refuses_bad_values_and_changes_nothing(staff_client, draft, fields):
    set_state(draft, S.REFUSED, "A_RECYCLER", "Code service inconnu")
    url = reverse("invoicing:fix", args=[draft.pk])
    before = _snapshot(draft)
    response = staff_client.post(url, fields)
    assert response.status_code in (422, 302)
    if response.status_code == 422:  # the form again, with its errors
        assert _snapshot(draft) == before


@pytest.mark.parametrize("field, value", [
    ("po_number", "x" * 51), ("po_number", "\x00"), ("contract_reference", "y" * 51),
    ("service", "999999"), ("service", "<script>"),
])
def test_routing_fix_field_errors(staff_client, draft, field, value):
    set_state(draft, S.REFUSED, "A_RECYCLER")
    before = _snapshot(draft)
    response = staff_client.post(reverse("invoicing:fix", args=[draft.pk]),
                                 {"po_number": "0123456", field: value})
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert _snapshot(draft) == before


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(chosen=st.lists(ids, max_size=5), target=st.one_of(texts, st.sampled_from([
    "https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)",
    "/invoices/?page=2"])))
def test_bulk_send_takes_any_selection_and_never_redirects_away(staff_client, draft, chosen,
                                                                target):
    response = staff_client.post(reverse("invoicing:bulk_send"), {"ids": chosen, "next": target})
    assert response.status_code == 302
    location = urlsplit(response.url)
    assert not location.scheme and not location.netloc, response.url
    assert not response.url.startswith(("//", "/\\"))


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(stem=texts, extension=st.sampled_from([".pdf", ".xml", ".exe", ".PDF", "", ".html", ".svg"]),
       content=st.binary(max_size=64))
def test_attachments_refuse_bad_files_and_keep_names_as_data(staff_client, draft, stem, extension,
                                                             content):
    before = InvoiceAttachment.objects.count()
    name = (stem + extension) or "x"  # the test client cannot send a file without a name
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    response = staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]),
                                 {"file": upload})
    added = InvoiceAttachment.objects.count() - before
    assert (response.status_code, added) in ((302, 1), (422, 0))
    if added:
        attachment = InvoiceAttachment.objects.latest("pk")
        assert 0 < len(attachment.original_name) <= 50 and "\x00" not in attachment.original_name
        assert content
        download = staff_client.get(reverse("invoicing:attachment",
                                            args=[draft.pk, attachment.pk]))
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == content
    assert staff_client.get(reverse("invoicing:edit", args=[draft.pk])).status_code == 200


@pytest.mark.parametrize("name, content", [
    ("facture.exe", b"MZ"), ("vide.pdf", b""), ("x" * 60 + ".pdf", b"%PDF"), ("sans-extension", b"a"),
])
def test_bad_attachments_are_refused_with_a_message(staff_client, draft, name, content):
    response = staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]),
                                 {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 422
    assert not InvoiceAttachment.objects.exists()
    html = response.content.decode()
    # The reason sits beside the file field, on the draft's own page.
    field = html[html.index('<section id="attachments"'):]
    assert 'class="field has-error' in field and "errorlist" in field


def _files_on_disk(settings) -> set:
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT) / "attachments"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.parametrize("content_type", ["application/" + "x" * 150, "text/html",
                                          "application/pdf; charset=" + "é" * 90])
def test_a_part_content_type_is_never_trusted_nor_a_500(staff_client, draft, settings,
                                                        content_type):
    """The browser's Content-Type of a part (150 characters, or a type that would render as a
    page) is not what is kept: the type comes from the file's extension."""
    before = _files_on_disk(settings)
    response = staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]), {
        "file": SimpleUploadedFile("piece.pdf", b"%PDF-1.4 x", content_type=content_type)})
    assert response.status_code == 302
    attachment = InvoiceAttachment.objects.get()
    assert attachment.content_type == "application/pdf"
    download = staff_client.get(reverse("invoicing:attachment", args=[draft.pk, attachment.pk]))
    assert download["Content-Type"] == "application/pdf"
    assert len(_files_on_disk(settings) - before) == 1


def test_a_failed_upload_leaves_no_file_behind(staff_client, draft, settings, monkeypatch):
    """Whatever fails once the file is written (here the history row), neither the row nor the
    file is left: the page says so, nothing half-done."""
    from invoicing.services import events

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(events, "user_note_event", broken)
    before = _files_on_disk(settings)
    staff_client.raise_request_exception = False
    staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]), {
        "file": SimpleUploadedFile("piece.pdf", b"%PDF-1.4 x")})
    assert not InvoiceAttachment.objects.exists()
    assert _files_on_disk(settings) == before, "a file without its row"


# --- Directory: SIRET lookup and buyer creation --------------------------------------------------

@pytest.fixture
def directory_client(client, registered_account):
    from core.roles import STAFF

    client.force_login(user_in(STAFF, registered_account))
    return client


sirets = st.one_of(texts, st.sampled_from([
    "13001533200013", "130 015 332 00013", "13001533200014", "1300153320001", "130015332000130",
    "73282932000074", "３１３００１５３３２０００１３", "1300153320001a", "00000000000000"]))


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(siret=sirets, target=texts, htmx=st.booleans())
def test_siret_lookup_answers_whatever_is_typed(directory_client, siret, target, htmx):
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    before = _rows()
    response = directory_client.get(reverse("directory:lookup"), {"siret": siret,
                                                                  "target": target}, **extra)
    assert response.status_code == 200
    assert _rows() == before  # a lookup never writes


@pytest.mark.parametrize("siret", ["13001533200014", "1300153320001", "abc", "13001533200013\x00",
                                   "<script>alert(1)</script>"])
def test_a_bad_siret_is_a_field_error(directory_client, siret):
    response = directory_client.get(reverse("directory:lookup"), {"siret": siret})
    assert "siret" in response.context["lookup_form"].errors


@settings(max_examples=30, deadline=None, suppress_health_check=HEALTH)
@given(siret=sirets, account_id=ids, chosen=st.lists(texts, max_size=3), target=texts)
def test_buyer_creation_refuses_bad_input_and_writes_nothing(directory_client, registered_account,
                                                             siret, account_id, chosen, target):
    before = _rows()
    response = directory_client.post(reverse("directory:buyers"), {
        "siret": siret, "account": account_id, "services": chosen, "target": target})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert _rows() == before
    else:
        Buyer.objects.filter(account=registered_account).delete()  # the next example starts clean


# --- Finance filters ------------------------------------------------------------------------------

@pytest.fixture
def finance_client(client, account):
    client.force_login(user_in(FINANCE, account))
    return client


finance_filters = st.fixed_dictionaries({}, optional={
    "date_from": dates, "date_to": dates, "buyer": ids, "state": texts, "page": ids})


@settings(max_examples=50, deadline=None, suppress_health_check=HEALTH)
@given(params=finance_filters, days=st.one_of(ids, numbers))
def test_finance_filters_answer_whatever_is_asked(finance_client, draft, params, days):
    listing = finance_client.get(reverse("finance:archive"), params)
    assert listing.status_code == 200
    archive = finance_client.get(reverse("finance:archive_zip"), params)
    if listing.context["form"].errors:  # a mistyped filter: the page again, never everything
        assert archive.status_code == 400 and archive.context["form"].errors
    else:
        assert archive.status_code == 200
        if archive.streaming:
            b"".join(archive.streaming_content)
        else:  # nothing archived for these filters: the page says so, no empty ZIP
            assert "rien à télécharger" in archive.content.decode()
    assert finance_client.get(reverse("finance:ageing"), {"days": days,
                                                          "page": params.get("page", "")}
                              ).status_code == 200
    assert finance_client.get(reverse("finance:worklist"),
                              {"page": params.get("page", "")}).status_code == 200


@pytest.mark.parametrize("field, params", [
    ("date_to", {"date_from": "2025-07-01", "date_to": "2025-06-01"}),
    ("date_from", {"date_from": "2025-02-30"}),
    ("buyer", {"buyer": "999999"}),
    ("state", {"state": "<script>"}),
])
def test_finance_filter_errors_are_field_errors(finance_client, field, params):
    response = finance_client.get(reverse("finance:archive"), params)
    assert field in response.context["form"].errors


# --- Sign-in --------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(username=texts, password=texts, next_url=texts,
       url=st.sampled_from([reverse("login"), reverse("admin:login")]))
def test_sign_in_answers_whatever_is_typed(client, username, password, next_url, url):
    response = client.post(url, {"username": username, "password": password, "next": next_url})
    assert response.status_code in (200, 429)  # the form again, or throttled


# --- Django admin: adding and changing a buyer ----------------------------------------------------

@pytest.fixture
def admin_client(client, registered_account):
    from core.roles import ADMINS

    client.force_login(user_in(ADMINS, registered_account, is_staff=True, is_superuser=True))
    return client


@settings(max_examples=30, deadline=None, suppress_health_check=HEALTH)
@given(siret=sirets, account_id=ids, codes=texts)
def test_admin_buyer_add_refuses_bad_input_and_writes_nothing(admin_client, registered_account,
                                                              siret, account_id, codes):
    before = _rows()
    response = admin_client.post(reverse("admin:directory_buyer_add"), {
        "account": account_id, "siret": siret, "service_codes": codes})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.context["adminform"].form.errors
        assert _rows() == before
    else:
        Buyer.objects.filter(account=registered_account).delete()


def _change_data(buyer: Buyer, **changes) -> dict:
    data = {
        "account": buyer.account_id, "name": buyer.name, "vat_number": buyer.vat_number,
        "address": buyer.address, "postalcode": buyer.postalcode, "city": buyer.city,
        "country": buyer.country, "public_sector": "on",
        "services-TOTAL_FORMS": "0", "services-INITIAL_FORMS": "0",
        "services-MIN_NUM_FORMS": "0", "services-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


@pytest.fixture
def admin_buyer(registered_account):
    return BuyerFactory(account=registered_account)


@settings(max_examples=30, deadline=None, suppress_health_check=HEALTH)
@given(changes=st.fixed_dictionaries({}, optional={
    "name": texts, "vat_number": texts, "address": texts, "postalcode": texts, "city": texts,
    "country": texts, "account": ids}))
def test_admin_buyer_change_refuses_bad_input_and_changes_nothing(admin_client, admin_buyer,
                                                                  changes):
    before = model_to_dict(Buyer.objects.get(pk=admin_buyer.pk))
    response = admin_client.post(reverse("admin:directory_buyer_change", args=[admin_buyer.pk]),
                                 _change_data(admin_buyer, **changes))
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.context["adminform"].form.errors
        assert model_to_dict(Buyer.objects.get(pk=admin_buyer.pk)) == before
    else:
        Buyer.objects.filter(pk=admin_buyer.pk).update(**{
            k: v for k, v in before.items() if k not in ("id", "account")})


@pytest.mark.parametrize("field, value", [
    ("vat_number", "FR00000000000"), ("vat_number", "FR<script>"), ("vat_number", "x" * 30),
    ("name", "a\x00b"), ("name", "x" * 201), ("postalcode", "x" * 11), ("account", "999999"),
])
def test_admin_buyer_change_field_errors(admin_client, admin_buyer, field, value):
    before = model_to_dict(Buyer.objects.get(pk=admin_buyer.pk))
    response = admin_client.post(reverse("admin:directory_buyer_change", args=[admin_buyer.pk]),
                                 _change_data(admin_buyer, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert model_to_dict(Buyer.objects.get(pk=admin_buyer.pk)) == before


def test_another_accounts_id_is_refused_not_used(staff_client, account, buyer, service):
    other = AccountFactory(name="Other SAS")
    before = _rows()
    response = staff_client.post(CREATE, form_data(buyer, service, account=other))
    assert response.status_code == 404
    assert _rows() == before


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    return buffer.getvalue()


def _xlsx() -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet().write(0, 0, "bon de commande")
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize("name, content, accepted", [
    ("facture.pdf", b"Ceci est un texte, pas un PDF", False),
    ("facture.pdf", b"%PDF-1.7 un vrai debut", True),
    ("photo.png", b"\x89PNG\r\n\x1a\n mais pas une image", False),
    ("photo.png", "png", True),
    ("photo.jpg", "png", False),  # a PNG named .jpg
    ("bon.xlsx", b"PK\x03\x04 pas un classeur", False),
    ("bon.xlsx", "xlsx", True),
    ("bon.ods", "xlsx", False),  # an XLSX named .ods
    ("liste.csv", b"a;b\x00c", False),
    ("liste.csv", "numéro;montant\n1;2\n".encode("cp1252"), True),
])
def test_a_document_is_what_its_name_says(staff_client, draft, name, content, accepted):
    content = {"png": _png, "xlsx": _xlsx}[content]() if isinstance(content, str) else content
    response = staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]),
                                 {"file": SimpleUploadedFile(name, content)})
    assert InvoiceAttachment.objects.exists() == accepted
    if not accepted:
        assert response.status_code == 422
        html = response.content.decode()
        field = html[html.index('<section id="attachments"'):]
        assert "malgré son nom" in field and 'class="field has-error' in field


def test_choosing_a_wrong_file_as_the_invoices_pdf_says_why(staff_client, draft):
    response = staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]), {
        "file": SimpleUploadedFile("facture.csv", b"a;b"), "use_as_pdf_view": "on"})
    assert response.status_code == 422 and not InvoiceAttachment.objects.exists()
    html = response.content.decode()
    assert "Seul un fichier PDF peut être la facture" in html[html.index('id="attachments"'):]


def test_removing_a_document_asks_first(staff_client, draft):
    staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]),
                      {"file": SimpleUploadedFile("bon.pdf", b"%PDF-1.4 bon")})
    html = staff_client.get(reverse("invoicing:edit", args=[draft.pk])).content.decode()
    assert "data-confirm=\"Retirer la pièce jointe « bon.pdf » ?\"" in html

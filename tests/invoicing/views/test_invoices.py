"""The invoice pages: who sees what, the list, sending one or a selection, the detail and its progress, the corrective actions, the legal XML, attachments."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.roles import ADMINS, FINANCE, STAFF
from invoicing.models import Invoice, InvoiceEvent, LegalDocument
from invoicing.models import InvoiceState as S
from tests.factories import AccountFactory, BuyerFactory, InvoiceFactory, ServiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = pytest.mark.django_db


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
    _archived(invoice)
    response = staff_client.get(reverse("invoicing:progress", args=[invoice.pk]),
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    html = response.content.decode()
    assert 'id="invoice-progress"' in html
    assert "hx-trigger" not in html


def _archived(invoice):
    """The invoice's legal XML and PDF, as if fetched."""
    import hashlib

    from invoicing.models import InvoicePdf, LegalDocument

    for model, content in ((LegalDocument, b"<Invoice/>"), (InvoicePdf, b"%PDF-1.7")):
        extra = {"content_type": "application/xml", "source_url": "/x"} if model is LegalDocument else {}
        model.objects.create(invoice=invoice, submission_round=1, content=content,
                             size=len(content), sha256=hashlib.sha256(content).hexdigest(), **extra)


def test_a_paid_invoice_waits_for_its_pdf_a_while_then_stops(staff_client, invoice):
    import datetime

    from invoicing.models import Invoice

    set_state(invoice, S.PAID)
    url = reverse("invoicing:progress", args=[invoice.pk])
    assert staff_client.get(url, HTTP_HX_REQUEST="true").status_code == 200  # PDF awaited
    an_hour_ago = invoice.updated_at - datetime.timedelta(hours=1)
    Invoice.objects.filter(pk=invoice.pk).update(state_updated_at=an_hour_ago)
    assert staff_client.get(url, HTTP_HX_REQUEST="true").status_code == 286  # not for ever


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
    # the technical detail as readable key / value lines, not a Python dict
    assert "<dt>invoice.id</dt><dd>99</dd>" in html and "<dt>invoice.number</dt>" in html
    assert "{&#x27;" not in html and "{'" not in html


@pytest.mark.parametrize("language, words", [
    ("fr", ["Créée", "Émise sous le numéro {number}", "Pièce jointe ajoutée : bon.pdf"]),
    ("en", ["Created", "Issued as {number}", "Attachment added: bon.pdf"])])
def test_the_history_reads_in_the_readers_language(staff_client, account, invoice, language,
                                                   words, enqueued):
    """What happened is kept as data and worded when read: the same history in French and
    in English; a line written before the codes keeps its words."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from invoicing.services import drafts, events, submission

    draft = InvoiceFactory(account=account, buyer=invoice.buyer, service=invoice.service,
                           number="")
    events.invoice_created_event(invoice=draft)
    drafts.attachment_add(invoice=draft, upload=SimpleUploadedFile("bon.pdf", b"%PDF-1.4 x"))
    InvoiceEvent.objects.create(invoice=draft, kind=InvoiceEvent.Kind.NOTE,
                                source=InvoiceEvent.Source.USER, message="Ligne d'avant")
    submission.invoice_request_send(invoice_id=draft.pk)
    draft.refresh_from_db()
    staff_client.cookies["django_language"] = language
    html = staff_client.get(reverse("invoicing:detail", args=[draft.pk])).content.decode()
    html = html.replace("&#x27;", "'")
    for word in words:
        assert word.format(number=draft.number) in html, word
    assert "Ligne d'avant" in html


def test_a_credit_note_is_prepared_from_a_sent_invoice(staff_client, account, invoice):
    set_state(invoice, S.SENT)
    page = staff_client.get(reverse("invoicing:credit_note", args=[invoice.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "reste à créditer" in html
    key = re.search(r'name="request_key" value="([0-9a-f]{32})"', html).group(1)
    line = invoice.lines.get()
    data = {"request_key": key, f"qty-{line.pk}": "35"}
    response = staff_client.post(reverse("invoicing:credit_note", args=[invoice.pk]), data)
    credit_note = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert response.url == reverse("invoicing:detail", args=[credit_note.pk])
    assert credit_note.credited_invoice == invoice and credit_note.state == S.DRAFT
    assert credit_note.total == Decimal("962.50") and credit_note.number == ""
    assert "Avoir sur la facture" in staff_client.get(response.url).content.decode()
    # The same page sent twice (a double click): one credit note.
    staff_client.post(reverse("invoicing:credit_note", args=[invoice.pk]), data)
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 1
    # More than remains: said beside the line, nothing made.
    too_much = staff_client.post(reverse("invoicing:credit_note", args=[invoice.pk]),
                                 {"request_key": "d" * 32, f"qty-{line.pk}": "101"})
    assert too_much.status_code == 422 and "Au plus 100" in too_much.content.decode()
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 1
    detail = staff_client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert "reste" in detail and "Faire un avoir" in detail


def test_a_fully_credited_invoice_offers_no_more_credit_note(staff_client, invoice):
    from invoicing.services import crediting

    set_state(invoice, S.SENT)
    crediting.credit_note_create(invoice_id=invoice.pk)
    detail = staff_client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert "Faire un avoir" not in detail
    staff_client.post(reverse("invoicing:credit_note", args=[invoice.pk]), {"request_key": "e" * 32})
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == 1


def test_credit_notes_count_negatively_in_the_lists_totals(staff_client, account, invoice):
    from invoicing.services import crediting

    set_state(invoice, S.SENT)
    note = crediting.credit_note_create(invoice_id=invoice.pk)
    Invoice.objects.filter(pk=note.pk).update(number="F2026-09999", state=S.SENT)
    html = staff_client.get(reverse("invoicing:list")).content.decode()
    assert re.search(r"-3\s712,50\xa0?\s?€", html)
    summary = re.search(r'class="state-sent[^"]*">(.*?)</li>', html, re.S).group(1)
    assert "dont 1 avoir" in summary and "0,00\xa0€" in summary
    filtered = staff_client.get(reverse("invoicing:list"), {"q": "F2026"}).content.decode()
    assert "0,00\xa0€" in re.search(r'class="state-sent[^"]*">(.*?)</li>', filtered, re.S).group(1)


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


@pytest.mark.parametrize("change", ["emptied commitment", "closed service"])
def test_a_refused_routing_fix_changes_nothing(staff_client, invoice, _no_broker, change):
    """A correction the checks refuse: said beside the field, the invoice as it was (its PO
    number kept), no "Acheminement corrigé" in its history, nothing sent; tried twice, the
    same."""
    from invoicing.models import InvoiceEvent

    set_state(invoice, S.REFUSED, "A_RECYCLER")
    data = {"service": invoice.service.pk, "po_number": "", "contract_reference": ""}
    if change == "closed service":
        closed = ServiceFactory(buyer=invoice.buyer, code="ESR_FERME", active=False)
        data = {"service": closed.pk, "po_number": invoice.po_number, "contract_reference": ""}
    before = (invoice.po_number, invoice.service_id, invoice.events.count())
    for _attempt in range(2):
        response = staff_client.post(reverse("invoicing:fix", args=[invoice.pk]), data)
        assert response.status_code == 422
        assert "rien n'a été modifié" in " ".join(
            str(m) for m in response.wsgi_request._messages)
        assert response.context["form"].errors or response.context["general_problems"]
    invoice.refresh_from_db()
    assert invoice.state == S.REFUSED
    assert (invoice.po_number, invoice.service_id, invoice.events.count()) == before
    assert not invoice.events.filter(kind=InvoiceEvent.Kind.NOTE,
                                     code="routing_fixed").exists()
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
    assert credit_note.credited_invoice == invoice and replacement.replaces == invoice
    assert replacement.total == invoice.total
    assert replacement.state == S.DRAFT
    # A second click: the same pair, nothing more; and the offer is gone.
    again = staff_client.post(reverse("invoicing:replace", args=[invoice.pk]))
    assert again.url == reverse("invoicing:edit", args=[replacement.pk])
    assert Invoice.objects.count() == 3
    list_html = staff_client.get(reverse("invoicing:list")).content.decode()
    assert "Avoir + nouvelle facture" not in list_html and "Remplacée" in list_html
    detail = staff_client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert "Avoir + nouvelle facture" not in detail and "Voir la nouvelle facture" in detail


def test_the_list_offers_the_fix_for_a_routing_return(staff_client, invoice):
    set_state(invoice, S.REFUSED, "A_RECYCLER", "Service inconnu")
    html = staff_client.get(reverse("invoicing:list")).content.decode()
    assert "Corriger et renvoyer" in html
    assert reverse("invoicing:fix", args=[invoice.pk]) in html
    assert "Service inconnu" in html


def test_the_legal_xml_is_viewed_and_downloaded(client, account, invoice):
    set_state(invoice, S.SENT)
    content = b'<Invoice xmlns:cbc="urn:c"><cbc:ID>F-1</cbc:ID><Note>&lt;b&gt;</Note></Invoice>'
    LegalDocument.objects.create(invoice=invoice, submission_round=1, content=content,
                                 sha256="a" * 64, size=len(content), content_type="application/xml",
                                 source_url="/attachments/download/1/x.xml")
    client.force_login(user_in(FINANCE, account))
    download = client.get(reverse("invoicing:legal_xml", args=[invoice.pk]))
    assert download.content == content  # the original, byte for byte
    assert 'filename="F2026-00001.xml"' in download["Content-Disposition"]
    view = client.get(reverse("invoicing:legal_view", args=[invoice.pk])).content.decode()
    shown = view[view.index('<pre class="xml'):view.index("</pre>")]
    import html as html_lib

    text = html_lib.unescape(re.sub(r"<[^>]+>", "", shown.split(">", 1)[1]))
    assert "\n  <cbc:ID>F-1</cbc:ID>\n" in text  # indented, one element per line, prefixes kept
    assert 'class="nt"' in shown  # highlighted tags
    assert "<b>" not in shown and "<Note>&lt;b&gt;</Note>" in text  # text escaped, never markup


def test_no_legal_xml_yet_is_a_404(staff_client, invoice):
    assert staff_client.get(reverse("invoicing:legal_xml", args=[invoice.pk])).status_code == 404


def test_the_printable_view_carries_the_legal_mentions_and_totals(staff_client, invoice):
    Invoice.objects.filter(pk=invoice.pk).update(notes="#PMD#Pénalités\n#PMT#Indemnité 40 €")
    html = staff_client.get(reverse("invoicing:print", args=[invoice.pk])).content.decode()
    assert re.search(r"3[\s\u202f\xa0]712,50[\s\xa0]€", html)
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
                                 {"file": upload})
    assert response.status_code == 422 and not invoice.attachments.exists()
    html = response.content.decode()
    section = html[html.index('<section id="attachments"'):]
    assert "trop long" in section and ".exe" in section
    assert 'aria-invalid="true"' in section or "has-error" in section


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
    summary = summary.replace("\xa0€", " €")  # the amount and its symbol, kept together
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
    # A search reads the matching buyers first (one query, whatever the data): their ids make
    # the buyer condition indexable beside the trigram ones.
    assert len(small.captured_queries) <= (10 if "q" in query else 9)


def test_the_search_finds_by_buyer_name_and_siret_too(staff_client, many):
    url = reverse("invoicing:list")
    buyer = many[0].buyer
    by_name = _numbers(staff_client.get(url, {"q": buyer.name[:6].lower(), "sort": "number"}))
    assert by_name == [i.number for i in sorted(many, key=lambda i: i.number)
                       if i.buyer_id == buyer.pk]
    spaced = f"{buyer.siret[:3]} {buyer.siret[3:6]} {buyer.siret[6:9]}"
    assert _numbers(staff_client.get(url, {"q": spaced, "sort": "number"})) == by_name


def test_the_search_answers_from_trigram_indexes_on_postgresql(account):
    from django.db import connection

    from invoicing import selectors
    from tests.invoicing.helpers import user_in

    if connection.vendor != "postgresql":
        pytest.skip("the trigram indexes are PostgreSQL's")
    from django.db.models import Q

    user = user_in("staff", account)
    assert selectors.invoice_search(user=user, filters={"q": "F2026-0001"}) is not None
    # The search's own conditions, as Django writes them: the indexes match that very form.
    query = Invoice.objects.filter(Q(number__icontains="F2026-0001")
                                   | Q(po_number__icontains="F2026-0001")).values("id")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # as the planner does at a million rows
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "invoice_number_trgm" in plan and "invoice_po_number_trgm" in plan, plan


def test_a_search_counts_and_totals_its_matches_up_to_a_bound_then_says_more(
        staff_client, many, monkeypatch):
    """Within the bound the counts and totals per state are exact (read from the matches);
    beyond it the list says "more than", shows no totals, and pages without a total."""
    from invoicing import selectors

    url = reverse("invoicing:list")
    monkeypatch.setattr(selectors, "MATCHES_COUNTED", 12)
    within = staff_client.get(url, {"q": "L-", "sort": "number"})
    assert within.context["many"] is False
    assert within.context["count"] == 12
    by_state = {s.state: s.count for s in within.context["summary"]}
    assert by_state == {"draft": 7, "sent": 4, "refused": 1}
    assert within.context["summary_total"] == sum(i.total for i in many)
    assert len(_numbers(within)) == 12

    monkeypatch.setattr(selectors, "MATCHES_COUNTED", 5)
    monkeypatch.setattr("invoicing.views.invoices.PAGE_SIZE", 5)
    beyond = staff_client.get(url, {"q": "L-", "sort": "number"})
    html = beyond.content.decode()
    assert beyond.context["many"] is True and beyond.context["count"] is None
    assert "plus de 5" in html and "Précisez la recherche" in html
    assert "sur" not in re.search(r'<nav class="pagination".*?</nav>', html, re.S).group(0)
    assert _numbers(beyond) == ["L-000", "L-001", "L-002", "L-003", "L-004"]
    assert 'rel="next"' in html
    second = staff_client.get(url, {"q": "L-", "sort": "number", "page": "2"})
    assert _numbers(second) == ["L-005", "L-006", "L-007", "L-008", "L-009"]
    last = staff_client.get(url, {"q": "L-", "sort": "number", "page": "3"})
    assert _numbers(last) == ["L-010", "L-011"] and 'rel="next"' not in last.content.decode()
    # A state chosen among more matches than counted still lists exactly that state's.
    sent = staff_client.get(url, {"q": "L-", "state": "sent", "sort": "number"})
    assert _numbers(sent) == ["L-000", "L-001", "L-002", "L-003"]


def test_a_sort_no_index_serves_is_offered_only_within_the_bound(staff_client, many,
                                                                   monkeypatch):
    from invoicing import selectors

    url = reverse("invoicing:list")
    by_buyer = staff_client.get(url, {"sort": "buyer"})
    assert by_buyer.context["sort"] == "buyer" and not by_buyer.context["sort_dropped"]
    monkeypatch.setattr(selectors, "MATCHES_COUNTED", 5)
    dropped = staff_client.get(url, {"sort": "buyer"})
    assert dropped.context["sort"] == "-created" and dropped.context["sort_dropped"]
    assert "Le tri par acheteur ou par état" in dropped.content.decode()
    newest_first = sorted(many, key=lambda i: (i.created_at, i.pk), reverse=True)
    assert _numbers(dropped) == [i.number for i in newest_first]
    # An indexed sort is kept however many invoices there are.
    assert staff_client.get(url, {"sort": "-total"}).context["sort"] == "-total"


def test_the_replaced_mark_is_read_for_the_page_in_one_query(account):
    from invoicing import selectors

    first, second, third = (InvoiceFactory(account=account) for _ in range(3))
    Invoice.objects.filter(pk=third.pk).update(replaces=first)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        marked = selectors.replaced_marked([first, second, third])
    assert [i.is_replaced for i in marked] == [True, False, False]
    assert len(queries) == 1
    assert selectors.replaced_marked([]) == []


@pytest.mark.parametrize("candidates", [5000, 0])  # 0: the run is too common, the index is asked
@pytest.mark.parametrize("query", ["L-003", "l-00", "PO007", "po01", "003", "L-0031", "-01",
                                   "X-003"])
def test_a_search_by_its_digits_first_finds_exactly_what_contains_it(
        account, many, monkeypatch, query, candidates):
    """The longest run of digits narrows the search; the whole search is then checked, so the
    matches are exactly those whose number or PO holds it, whichever way they were found."""
    from django.db.models import Q

    from invoicing import selectors
    from tests.invoicing.helpers import user_in

    monkeypatch.setattr(selectors, "CANDIDATES", candidates)
    user = user_in("staff", account)
    rows = selectors.invoice_matches(user=user, filters={"q": query}, buyers=[])
    expected = set(Invoice.objects.filter(Q(number__icontains=query) | Q(po_number__icontains=query))
                   .values_list("id", flat=True))
    assert {row[0] for row in rows} == expected
    assert expected or query in ("L-0031", "X-003")  # "X-003": "003" is there, the rest is not


def test_a_draft_credit_note_changes_only_in_what_it_credits(staff_client, account, invoice):
    """Its edit page is the credit form: buyer, service and prices are the invoice's; a posted
    buyer or price is ignored; amounts and a total are offered beside quantities; a blank line
    credits nothing."""
    from invoicing.services import crediting
    from tests.factories import BuyerFactory

    set_state(invoice, S.SENT)
    note = crediting.credit_note_create(invoice_id=invoice.pk)
    edit = staff_client.get(reverse("invoicing:edit", args=[note.pk]))
    assert edit.status_code == 302
    assert edit.url == reverse("invoicing:credit_note_edit", args=[note.pk])
    page = staff_client.get(edit.url).content.decode()
    assert 'name="buyer"' not in page and "ou montant HT" in page and 'name="total"' in page
    line = invoice.lines.get()
    other = BuyerFactory(account=account, siret="21690123100011", name="COMMUNE DE LYON")
    response = staff_client.post(edit.url, {f"qty-{line.pk}": "", f"amount-{line.pk}": "100",
                                            "buyer": other.pk, "unit_price": "1"})
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.buyer_id == invoice.buyer_id and note.total == Decimal("110.00")
    # nothing typed: refused, said, nothing changed
    refused = staff_client.post(edit.url, {f"qty-{line.pk}": "", f"amount-{line.pk}": ""})
    assert refused.status_code == 422 and "Indiquez ce qui est crédité" in refused.content.decode()
    note.refresh_from_db()
    assert note.total == Decimal("110.00")
    # the invoice's own form, posted at the credit note, changes nothing either
    staff_client.post(reverse("invoicing:edit", args=[note.pk]), {"buyer": other.pk})
    note.refresh_from_db()
    assert note.buyer_id == invoice.buyer_id


@pytest.mark.parametrize("came_from, step", [(S.SENT, "mise à disposition"),
                                             (S.REGISTERED, "service fait")])
def test_the_progress_bar_shows_a_refusal_at_the_step_where_it_happened(staff_client, invoice,
                                                                        came_from, step):
    from invoicing import states

    set_state(invoice, came_from)
    states.invoice_transition(invoice=invoice, to=S.REFUSED, source="poll",
                              chorus_status="A_RECYCLER")
    response = staff_client.get(reverse("invoicing:detail", args=[invoice.pk]))
    steps = response.context["steps"]
    assert [label for status, label in steps if status == "trouble"] == [step]
    assert all(status == "todo" for status, _label in steps[[str(label) for _s, label in steps]
                                                              .index(step) + 1:])


def test_a_rejected_credit_note_offers_a_new_one_not_a_replacement(staff_client, invoice):
    from invoicing.services import crediting

    set_state(invoice, S.SENT)
    note = crediting.credit_note_create(invoice_id=invoice.pk)
    Invoice.objects.filter(pk=note.pk).update(number="F2026-00002")
    set_state(note, S.REFUSED, "REJETEE", "Avoir en double")
    page = staff_client.get(reverse("invoicing:detail", args=[note.pk])).content.decode()
    assert "Avoir + nouvelle facture" not in page
    assert reverse("invoicing:credit_note", args=[invoice.pk]) in page  # a new credit note
    listing = staff_client.get(reverse("invoicing:list")).content.decode()
    assert "Nouvel avoir sur sa facture" in listing
    refused = staff_client.post(reverse("invoicing:replace", args=[note.pk]))
    assert refused.status_code == 302
    assert any("nouvel avoir" in str(m) for m in refused.wsgi_request._messages)
    assert not Invoice.objects.filter(replaces=note).exists()


def test_the_new_invoice_after_a_rejection_and_its_credit_note_link_to_each_other(
        staff_client, invoice):
    set_state(invoice, S.REFUSED, "REJETEE", "Montant erroné")
    staff_client.post(reverse("invoicing:replace", args=[invoice.pk]))
    new = Invoice.objects.get(replaces=invoice)
    note = Invoice.objects.get(credited_invoice=invoice, kind=Invoice.Kind.CREDIT_NOTE)
    new_page = staff_client.get(reverse("invoicing:detail", args=[new.pk])).content.decode()
    assert reverse("invoicing:detail", args=[note.pk]) in new_page
    assert reverse("invoicing:detail", args=[invoice.pk]) in new_page
    note_page = staff_client.get(reverse("invoicing:detail", args=[note.pk])).content.decode()
    assert reverse("invoicing:detail", args=[new.pk]) in note_page


def test_the_print_of_a_credit_note_says_what_it_credits_never_what_to_pay(staff_client,
                                                                          invoice):
    from invoicing.services import crediting

    set_state(invoice, S.SENT)
    note = crediting.credit_note_create(invoice_id=invoice.pk)
    Invoice.objects.filter(pk=note.pk).update(number="F2026-00002")
    page = staff_client.get(reverse("invoicing:print", args=[note.pk])).content.decode()
    assert "Net à payer" not in page and "IBAN" not in page and "virement" not in page
    assert "retard" not in page.lower()  # no late-payment mentions on a credit note
    assert "Facture créditée" in page and invoice.number in page
    assert "Total TTC crédité" in page


def test_the_print_of_a_draft_says_it_is_a_draft(staff_client, account, invoice):
    draft = InvoiceFactory(account=account, buyer=invoice.buyer, service=invoice.service,
                           number="")
    page = staff_client.get(reverse("invoicing:print", args=[draft.pk])).content.decode()
    assert "BROUILLON" in page and "n° </h1>" not in page and "Facture n°" not in page
    issued = staff_client.get(reverse("invoicing:print", args=[invoice.pk])).content.decode()
    assert "BROUILLON" not in issued

"""Markup typed by a user (or sent back by B2Brouter) is data everywhere: escaped in every page
that shows it, kept as text in the JSON sent to B2Brouter, escaped in the legal XML."""

import datetime
import re

import pytest
import simplejson
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from core.roles import ADMINS, FINANCE, STAFF
from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from invoicing.services import legal, remote, submission
from tests.conftest import sandbox_bytes, wait_for
from tests.factories import BuyerFactory, InvoiceFactory, ServiceFactory
from tests.hostile.inputs import ATTRIBUTE_BREAK, HEALTH, SCRIPT
from tests.invoicing.helpers import set_state, user_in

pytestmark = pytest.mark.django_db

UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
NOTES = f"#PMT#{SCRIPT}\nÜnïcödé 漢字 & co {ATTRIBUTE_BREAK}"
DESCRIPTIONS = [f"Cocktail {SCRIPT}", f"Salle {ATTRIBUTE_BREAK}", "Ünïcödé 漢字 🧾 & <b>gras</b>",
                "]]><!-- fin --> 'apostrophe' \"guillemets\""]


def _lines() -> list[dict]:
    return [{"description": text, "quantity": "1", "unit_price": "10.00", "vat_rate": "20",
             "article_code": f"<i>{index}</i>"} for index, text in enumerate(DESCRIPTIONS)]


@pytest.fixture
def hostile_sent(registered_account):
    """An invoice full of markup, sent to the sandbox, its legal XML archived."""
    buyer = BuyerFactory(account=registered_account, name=f"Mairie {SCRIPT}",
                         address=ATTRIBUTE_BREAK)
    service = ServiceFactory(buyer=buyer, name=f"Service {ATTRIBUTE_BREAK}")
    invoice = InvoiceFactory(account=registered_account, buyer=buyer, service=service,
                             notes=NOTES, po_number=ATTRIBUTE_BREAK[:50],
                             contract_reference=SCRIPT, lines=_lines())
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    legal.invoice_fetch_legal(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def hostile_refused(hostile_sent):
    """A second invoice Chorus Pro turned down, with markup in its reason (B2Brouter's text)."""
    invoice = InvoiceFactory(account=hostile_sent.account, buyer=hostile_sent.buyer,
                             service=hostile_sent.service, notes=NOTES, lines=_lines())
    return set_state(invoice, S.REFUSED, "A_RECYCLER", reason=f"Refus {SCRIPT} {ATTRIBUTE_BREAK}")


@pytest.fixture
def admin_client(client, hostile_sent):
    client.force_login(user_in(ADMINS, hostile_sent.account, is_staff=True, is_superuser=True))
    return client


def assert_escaped(html: str, *, shows: tuple[str, ...] = (SCRIPT, ATTRIBUTE_BREAK)) -> None:
    for raw in (SCRIPT, ATTRIBUTE_BREAK, "<script>alert", "<img src=x", "<b>gras</b>",
                "<i>0</i>"):
        assert raw not in html, f"unescaped {raw!r}"
    assert any(escape(text) in html for text in shows), "the text is not shown at all"


# --- Pages ------------------------------------------------------------------------------------

def _pages(invoice: Invoice, refused: Invoice) -> dict[str, tuple[str, dict]]:
    buyer = invoice.buyer
    return {
        "list": (reverse("invoicing:list"), {}),
        "list-search": (reverse("invoicing:list"), {"q": SCRIPT}),
        "list-table": (reverse("invoicing:list"), {"HTTP_HX_REQUEST": "true",
                                                   "HTTP_HX_TARGET": "invoice-table"}),
        "detail": (reverse("invoicing:detail", args=[invoice.pk]), {}),
        "progress": (reverse("invoicing:progress", args=[invoice.pk]), {"HTTP_HX_REQUEST": "true"}),
        "print": (reverse("invoicing:print", args=[invoice.pk]), {}),
        "legal": (reverse("invoicing:legal_view", args=[invoice.pk]), {}),
        "refused-detail": (reverse("invoicing:detail", args=[refused.pk]), {}),
        "fix": (reverse("invoicing:fix", args=[refused.pk]), {}),
        "archive": (reverse("finance:archive"), {}),
        "worklist": (reverse("finance:worklist"), {}),
        "ageing": (reverse("finance:ageing") + "?days=1", {}),
        "buyers": (reverse("directory:buyers"), {}),
        "buyers-search": (reverse("directory:buyers") + "?q=Mairie", {}),
        "buyer": (reverse("directory:buyer_detail", args=[buyer.pk]), {}),
        "lookup": (reverse("directory:lookup") + f"?siret={buyer.siret}", {}),
        "admin-buyers": (reverse("admin:directory_buyer_changelist"), {}),
        "admin-buyer": (reverse("admin:directory_buyer_change", args=[buyer.pk]), {}),
        "admin-invoice": (reverse("admin:invoicing_invoice_change", args=[invoice.pk]), {}),
    }


PAGES = ["list", "list-search", "list-table", "detail", "progress", "print", "legal",
         "refused-detail", "fix", "archive", "worklist", "ageing", "buyers", "buyers-search",
         "buyer", "lookup", "admin-buyers", "admin-buyer", "admin-invoice"]


@pytest.mark.parametrize("page", PAGES)
def test_markup_is_escaped_in_every_page(admin_client, hostile_sent, hostile_refused, page):
    Invoice.objects.filter(pk=hostile_sent.pk).update(
        state_updated_at=timezone.now() - datetime.timedelta(days=60))  # for the ageing page
    url, extra = _pages(hostile_sent, hostile_refused)[page]
    response = admin_client.get(url, **extra)
    assert response.status_code == 200
    html = response.content.decode()
    if page == "legal":  # the XML as text: already escaped once, escaped again for HTML
        # Read without the highlighting's spans (which split the text); nothing runs either way.
        without_highlighting = re.sub(r'<span class="\w+">|</span>', "", html)
        assert_escaped(without_highlighting, shows=(escape(SCRIPT),))
    elif page == "archive":  # a row per document: the invoice number and the buyer
        assert_escaped(html, shows=(f"Mairie {SCRIPT}",))
    else:
        assert_escaped(html)


def test_markup_is_escaped_in_the_edit_form(client, registered_account):
    buyer = BuyerFactory(account=registered_account, name=f"Mairie {SCRIPT}")
    service = ServiceFactory(buyer=buyer, name=f"Service {ATTRIBUTE_BREAK}")
    draft = InvoiceFactory(account=registered_account, buyer=buyer, service=service, notes=NOTES,
                           po_number=ATTRIBUTE_BREAK, contract_reference=SCRIPT, lines=_lines())
    client.force_login(user_in(STAFF, registered_account))
    for url in (reverse("invoicing:edit", args=[draft.pk]),
                reverse("invoicing:edit", args=[draft.pk]) + "?check=1",
                reverse("invoicing:form_routing") + f"?buyer={buyer.pk}&service={service.pk}",
                reverse("invoicing:create")):
        response = client.get(url, HTTP_HX_REQUEST="true" if "routing" in url else "")
        assert response.status_code == 200, url
        assert_escaped(response.content.decode())


def test_markup_is_escaped_when_a_refused_form_comes_back(client, registered_account):
    from tests.invoicing.helpers import form_data

    buyer = BuyerFactory(account=registered_account)
    client.force_login(user_in(STAFF, registered_account))
    data = form_data(buyer, account=registered_account, notes=NOTES, po_number=ATTRIBUTE_BREAK,
                     iban="FR76 not an iban",
                     lines=[{"description": SCRIPT, "quantity": "-1", "unit_price": "1",
                             "vat_category": "S", "vat_rate": "20", "exemption_reason": ""}])
    response = client.post(reverse("invoicing:create"), data)
    assert response.status_code == 422
    assert_escaped(response.content.decode())
    totals = client.post(reverse("invoicing:form_totals"), data, HTTP_HX_REQUEST="true")
    assert "<script>alert" not in totals.content.decode()


def test_finance_sees_the_same_escaping(client, hostile_sent, hostile_refused):
    client.force_login(user_in(FINANCE, hostile_sent.account))
    for url in (reverse("invoicing:detail", args=[hostile_sent.pk]), reverse("finance:worklist")):
        response = client.get(url)
        assert response.status_code == 200
        assert_escaped(response.content.decode())


# --- What goes to B2Brouter, and what comes back ----------------------------------------------

def _as_sent(invoice: Invoice) -> dict:
    """The invoice object as B2Brouter reads it: encoded the way the client encodes it."""
    encoded = simplejson.dumps(submission.invoice_body(invoice), use_decimal=True, ensure_ascii=False)
    return simplejson.loads(encoded.encode("utf-8"))["invoice"]


def _xml(content: bytes):
    return etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True))


def test_markup_reaches_b2brouter_as_text_and_the_legal_xml_escapes_it(hostile_sent, b2b):
    invoice = hostile_sent
    body = _as_sent(invoice)
    assert [line["description"] for line in body["invoice_lines_attributes"]] == DESCRIPTIONS
    assert body["notes"] == NOTES
    assert body["ponumber"] == ATTRIBUTE_BREAK and body["contract_reference"] == SCRIPT

    remote = b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]
    assert remote["notes"] == NOTES

    document = invoice.legal_documents.get()
    content = bytes(document.content)
    assert content == sandbox_bytes(b2b, invoice.download_legal_url)
    assert b"<script>" not in content and b"<img " not in content
    root = _xml(content)
    names = root.xpath("//cac:InvoiceLine/cac:Item/cbc:Name/text()", namespaces=UBL)
    assert names == DESCRIPTIONS
    assert NOTES in root.xpath("//cbc:Note/text()", namespaces=UBL)
    assert root.xpath("string(//cac:OrderReference/cbc:ID)", namespaces=UBL) == ATTRIBUTE_BREAK
    # `contract_reference` is not a documented field: a B2Brouter that ignores it writes no
    # contract reference; one that takes it must write it as text
    assert root.xpath("string(//cac:ContractDocumentReference/cbc:ID)", namespaces=UBL) in (
        "", SCRIPT)
    assert invoice.buyer.name in root.xpath("//cac:AccountingCustomerParty//cbc:Name/text()",
                                            namespaces=UBL)


def test_the_legal_xml_download_is_served_as_a_file(admin_client, hostile_sent):
    for url in (reverse("invoicing:legal_xml", args=[hostile_sent.pk]),
                reverse("finance:archive_download",
                        args=[hostile_sent.legal_documents.get().pk])):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/xml"
        assert response["Content-Disposition"].startswith("attachment;")
        _xml(response.content)  # well-formed


# Text the forms accept (no control character XML cannot carry), carriage returns aside: XML
# parsers read them as line feeds.
accepted_text = st.text(alphabet=st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\r\ufffe\uffff",
    min_codepoint=0x09).filter(lambda c: c in "\t\n" or ord(c) >= 0x20), min_size=1, max_size=60)


@settings(max_examples=50, deadline=None, suppress_health_check=HEALTH)
@given(descriptions=st.lists(accepted_text.filter(str.strip), min_size=1, max_size=4),
       notes=accepted_text)
def test_any_accepted_text_reaches_b2brouter_unchanged(registered_account, descriptions, notes):
    invoice = InvoiceFactory(account=registered_account, notes=notes, lines=[
        {"description": text, "quantity": "1", "unit_price": "1", "vat_rate": "20"}
        for text in descriptions])
    body = _as_sent(invoice)
    assert [line["description"] for line in body["invoice_lines_attributes"]] == descriptions
    assert body.get("notes", "") == notes

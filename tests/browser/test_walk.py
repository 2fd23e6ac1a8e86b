"""Every role's pages, as a new user walks them, in French and in English, at desktop and phone
width, in a real headless Chromium. Each page is saved as a screenshot under test-artifacts/ and
fails the walk when its visible text shows a message left untranslated, an internal state code,
a raw `#PMD#`-style code or an unformatted amount; when it links to a page that answers 403 for
that role; or when, at phone width, it runs off the screen."""

import re
from pathlib import Path

import pytest

from core import roles
from invoicing.models import Invoice, InvoiceState, LegalDocument
from invoicing.services.drafts import DEFAULT_LEGAL_NOTES
from tests.browser.conftest import PASSWORD, shot
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES" / "django.po"
WIDTHS = {"desktop": 1280, "phone": 390}
# What a user must never read: the product's own codes and Chorus Pro's, as codes.
RAW_CODES = re.compile(r"#P[MD][DT]#|#AAB#|\bA_RECYCLER\b|\bREJETEE\b|\bSUSPENDUE\b|"
                       r"\bMISE_EN_PAIEMENT\b|\ballegedly_paid\b|∅|\bdraft → |→ queued\b")
INTERNAL_STATES = re.compile(r"(?<![\w/-])(draft|queued|submitting|sending|refused|registered|"
                             r"accepted|paid|error|failed)(?![\w/-])")
# An amount written without its thousands grouping or with a point in French.
UNGROUPED = re.compile(r"(?<![\d\u00a0\u202f ,.])\d{4,}[.,]\d{2}(?!\d)")
FRENCH_POINT = re.compile(r"\d\.\d{2}\s?(€|EUR)")
# 12/03/2026: 12 March or 3 December?
AMBIGUOUS_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")


def _french_messages() -> list[str]:
    """The catalogue's French messages worth looking for in an English page: whole phrases."""
    found = []
    for block in CATALOGUE.read_text().split("\n\n"):
        match = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        if not match:
            continue
        text = "".join(re.findall(r'"(.*)"', match.group(1)))
        if "%(" in text or "{" in text or len(text.split()) < 3:
            continue
        found.append(text.replace('\\"', '"'))
    return found


@pytest.fixture
def world(registered_account):
    account = registered_account
    draft = InvoiceFactory(account=account, number="")
    sent = InvoiceFactory(account=account, notes=DEFAULT_LEGAL_NOTES)
    set_state(sent, InvoiceState.ACCEPTED)
    LegalDocument.objects.create(
        invoice=sent, submission_round=1, content=b"<Invoice><ID>x</ID></Invoice>",
        sha256="a" * 64, size=29, content_type="application/xml", source_url="/x.xml")
    refused = InvoiceFactory(account=account)
    set_state(refused, InvoiceState.REFUSED, "A_RECYCLER", "Code service inconnu")
    credit = InvoiceFactory(account=account, kind=Invoice.Kind.CREDIT_NOTE,
                            credited_invoice=sent)
    set_state(credit, InvoiceState.PAID)
    from invoicing.services import crediting

    other = set_state(InvoiceFactory(account=account), InvoiceState.SENT)
    credit_draft = crediting.credit_note_create(
        invoice_id=other.pk, credit=crediting.Credit(amounts={other.lines.first().pk: 100}))
    users = {role: user_in(role, account, username=role, password=PASSWORD)
             for role in (roles.STAFF, roles.FINANCE)}
    users[roles.ADMINS] = user_in(roles.ADMINS, account, username="admins", password=PASSWORD,
                                  is_staff=True, is_superuser=True)
    # A company and an invoice to it whose declaration the tax administration refused.
    from invoicing.models import TaxReport
    from tests.factories import BuyerFactory

    company = BuyerFactory(account=account, siret="51234567900017", name="ATELIERS DUPONT SAS",
                           public_sector=False, service_code_required=False,
                           engagement_required=False, annuaire="registered",
                           transport_type_code="peppol",
                           document_type_code="xml.ubl.invoice.frcius.v1")
    to_company = InvoiceFactory(account=account, buyer=company, service=None,
                                operation_category="services", delivery_address="Quai 4, Lyon")
    set_state(to_company, InvoiceState.ERROR)
    TaxReport.objects.create(invoice=to_company, remote_id=987654321, state="refused",
                             reason="Rejet DGFiP (CDV 301) : SIREN de l'acheteur inconnu")
    return {"draft": draft, "sent": sent, "refused": refused, "credit": credit, "users": users,
            "buyer": sent.buyer, "credit_draft": credit_draft, "company": company,
            "to_company": to_company}


def _pages(world, role):
    sent, buyer = world["sent"], world["buyer"]
    pages = {"dashboard": "/", "list": "/invoices/", "invoice": f"/invoices/{sent.pk}/",
             "credit-note": f"/invoices/{world['credit'].pk}/",
             "refused": f"/invoices/{world['refused'].pk}/",
             "print": f"/invoices/{sent.pk}/print/", "legal-xml": f"/invoices/{sent.pk}/legal/",
             "worklist": "/finance/worklist/", "ageing": "/finance/ageing/",
             "buyers": "/directory/buyers/", "buyer": f"/directory/buyers/{buyer.pk}/",
             "exports": "/exports/", "credit-draft": f"/invoices/{world['credit_draft'].pk}/",
             "draft-print": f"/invoices/{world['draft'].pk}/print/",
             "company": f"/directory/buyers/{world['company'].pk}/",
             "company-invoice": f"/invoices/{world['to_company'].pk}/",
             "company-print": f"/invoices/{world['to_company'].pk}/print/",
             "payments": f"/finance/invoices/{sent.pk}/payments/", "balance": "/finance/balance/",
             "buyer-figures": f"/finance/buyers/?buyer={buyer.pk}",
             "reminder": f"/finance/invoices/{world['refused'].pk}/reminder/"}
    if role in (roles.STAFF, roles.ADMINS):
        pages |= {"new-invoice": "/invoices/new/", "draft": f"/invoices/{world['draft'].pk}/edit/",
                  "fix": f"/invoices/{world['refused'].pk}/fix/", "lookup": "/directory/lookup/",
                  "credit-form": f"/invoices/{world['credit_draft'].credited_invoice_id}/credit-note/",
                  "credit-edit": f"/invoices/{world['credit_draft'].pk}/credited/"}
    if role in (roles.FINANCE, roles.ADMINS):
        pages |= {"archive": "/finance/archive/", "books": "/finance/books/",
                  "statements": "/finance/statements/"}
    if role == roles.ADMINS:
        pages |= {"admin": "/admin/", "admin-invoices": "/admin/invoicing/invoice/",
                  "admin-invoice": f"/admin/invoicing/invoice/{sent.pk}/change/",
                  "admin-buyer": f"/admin/directory/buyer/{buyer.pk}/change/",
                  "admin-account": f"/admin/core/account/{sent.account_id}/change/",
                  "admin-reform": f"/admin/core/account/{sent.account_id}/reform/"}
    return pages


def _sign_in(page, live_server, username):
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def _problems(page, live_server, name, language, width, french, checked_links) -> list[str]:
    problems = []
    # What a user reads: form fields' own values (the notes' codes as typed) and <code> (the
    # code beside its words, for support) aside.
    text = page.evaluate("""() => {
        const copy = document.body.cloneNode(true);
        copy.querySelectorAll("textarea, input, select, code, script").forEach(e => e.remove());
        document.body.appendChild(copy); copy.style.position = "absolute";
        const text = copy.innerText; copy.remove(); return text; }""")
    where = f"{name} ({language}, {width}px)"
    for match in RAW_CODES.finditer(text):
        problems.append(f"{where}: raw code {match.group(0)!r}")
    if language == "fr" and not name.startswith("admin"):
        for match in INTERNAL_STATES.finditer(text):
            problems.append(f"{where}: internal state {match.group(0)!r}")
    if name not in ("legal-xml",):
        for match in UNGROUPED.finditer(text):
            problems.append(f"{where}: unformatted amount {match.group(0)!r}")
    if language == "fr":
        for match in FRENCH_POINT.finditer(text):
            problems.append(f"{where}: amount with a point {match.group(0)!r}")
    if language == "en":
        problems += [f"{where}: untranslated {message!r}" for message in french
                     if message in text]
        for match in AMBIGUOUS_DATE.finditer(text):
            problems.append(f"{where}: a date one can read both ways {match.group(0)!r}")
    if width == WIDTHS["phone"] or name in ("admin-invoice", "admin-invoices"):
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            problems.append(f"{where}: runs {overflow}px off the screen")
    hrefs = page.eval_on_selector_all(
        "a[href^='/']", "links => links.map(a => a.getAttribute('href'))")
    for href in sorted(set(hrefs)):
        if href in checked_links or href.startswith(("/admin/logout", "/logout")):
            continue
        checked_links.add(href)
        status = page.request.get(live_server.url + href, max_redirects=0).status
        if status == 403:
            problems.append(f"{where}: links to {href}, which answers 403")
    return problems


@pytest.mark.parametrize("role", [roles.STAFF, roles.FINANCE, roles.ADMINS])
def test_each_role_walks_its_pages_in_both_languages_and_at_phone_width(
        live_server, world, page, role):
    french = _french_messages()
    problems = []
    _sign_in(page, live_server, role)
    for language in ("fr", "en"):
        page.context.add_cookies([{"name": "django_language", "value": language,
                                   "url": live_server.url}])
        checked_links: set[str] = set()
        for size, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            for name, url in _pages(world, role).items():
                response = page.goto(live_server.url + url)
                assert response.status == 200, f"{role} {url}: {response.status}"
                page.wait_for_load_state("networkidle")
                shot(page, f"walk-{role}-{language}-{size}-{name}")
                problems += _problems(page, live_server, name, language, width, french,
                                      checked_links)
    assert problems == [], "\n".join(problems)

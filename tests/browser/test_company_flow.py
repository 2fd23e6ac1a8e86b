"""A staff member bills a French company in a real headless Chromium: the company found by
SIRET in the directory and created, the invoice form asking what an invoice to a company must
carry, sent through B2Brouter as Plateforme Agréée, and followed, with its declaration to the
tax administration, to its end (a real worker, webhooks from a documented-only sandbox that moves
invoices on). In French at desktop width, then in English at phone width."""

import re

import pytest

from invoicing.models import Invoice, TaxReport
from tests.browser.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

COMPANY_SIRET = "51234567900017"


@pytest.fixture
def activated_office(office):
    import datetime

    from invoicing.services import reform

    reform.account_activate(account=office["account"], start_date=datetime.date.today(),
                            operation="services", naf_code="62", enterprise_size="pme")
    return office


def test_staff_member_bills_a_company_and_follows_its_declaration(live_server, activated_office,
                                                                   page):
    from playwright.sync_api import expect

    account = activated_office["account"]
    sign_in(page, live_server, "camille", "/directory/buyers/")
    expect(page.locator("h1")).to_have_text("Acheteurs")

    # The company, by SIRET: the directory says it is a company; no Chorus Pro rules asked.
    page.fill("#buyer-lookup-siret", "512 345 679 00017")
    page.click("#buyer-lookup button[type=submit]")
    expect(page.locator("#buyer-lookup")).to_contain_text("ATELIERS DUPONT SAS")
    expect(page.locator("#buyer-lookup")).to_contain_text("plateforme agréée")
    expect(page.locator("#buyer-lookup")).not_to_contain_text("Règles Chorus Pro")
    page.click("#buyer-lookup button:has-text(\"Créer l'acheteur\")")
    expect(page.locator("#buyer-lookup")).to_contain_text("Acheteur enregistré dans ce compte")
    expect(page.locator("#buyer-table")).to_contain_text("entreprise")
    shot(page, "company-created")

    # The invoice form asks what a company's invoice must say.
    page.goto(live_server.url + "/invoices/new/")
    buyer = account.buyers.get(siret=COMPANY_SIRET)
    expect(page.locator("#company-fields")).to_be_hidden()
    page.select_option("#id_buyer", str(buyer.pk))
    expect(page.locator("#buyer-rules")).to_contain_text("SIREN 512345679")
    expect(page.locator("#company-fields")).to_be_visible()
    expect(page.locator("#id_service")).to_have_count(0)
    expect(page.locator("#id_operation_category")).to_have_value("services")  # the account's
    page.fill("#id_delivery_address", "Entrepôt B, 3 rue du Port, 69007 Lyon")
    page.fill("#id_lines-0-description", "Audit de sécurité")
    page.fill("#id_lines-0-quantity", "3")
    page.fill("#id_lines-0-unit_price", "850")
    page.fill("#id_lines-0-vat_rate", "20")
    expect(page.locator("#total-total")).to_contain_text(re.compile(r"3\s060,00"))

    # A mention left empty is said beside its field; nothing is sent.
    page.fill("#id_discount", "")
    page.click("button[value=check]")
    expect(page.locator("#id_discount + .errorlist, .field:has(#id_discount) .errorlist")
           ).to_contain_text("escompte")
    shot(page, "company-invoice-problems")
    page.fill("#id_discount", "Pas d'escompte pour paiement anticipé.")
    page.click("button[value=check]")
    expect(page.locator("#check-result")).to_contain_text("peut partir")
    shot(page, "company-invoice-form")
    page.click("button[value=send]")
    assert any("plateforme agréée" in question for question in page.dialogs)
    invoice = Invoice.objects.get(account=account, buyer=buyer)
    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.pk}/$"))

    # Followed to its end: registered by the tax administration, approved by the buyer.
    expect(page.locator("#invoice-progress .badge")).to_have_attribute(
        "data-state", re.compile(r"^(accepted|allegedly_paid)$"), timeout=90_000)
    expect(page.locator("#tax-report")).to_contain_text("enregistrée par l'administration",
                                                         timeout=60_000)
    expect(page.locator("#invoice-progress .steps")).to_contain_text(
        re.compile("enregistrée par l'administration fiscale", re.I))
    shot(page, "company-invoice-detail")
    report = TaxReport.objects.get(invoice=invoice)
    assert report.state == TaxReport.State.REGISTERED
    legal = bytes(invoice.legal_documents.get().content)
    assert b"#PMD#" in legal and b"#BAR#B2B" in legal and b"Adresse de livraison" in legal

    # In English, at phone width: the same words in English.
    page.set_viewport_size({"width": 390, "height": 844})
    page.context.add_cookies([{"name": "django_language", "value": "en",
                               "url": live_server.url}])
    page.goto(live_server.url + f"/invoices/{invoice.pk}/")
    expect(page.locator("#tax-report")).to_contain_text("registered by the administration")
    shot(page, "company-invoice-detail-en-phone")
    page.goto(live_server.url + "/invoices/")
    expect(page.locator("main")).to_contain_text("Declaration")
    shot(page, "company-invoice-list-en-phone")

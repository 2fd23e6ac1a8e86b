"""A staff member fills in, checks and sends the guide's invoice in a real headless Chromium,
against the live server, a real Celery worker and a sandbox that moves invoices on and notifies
us by webhook; then follows it to `accepted` and downloads its legal XML.

Screenshots of each main page go to test-artifacts/ (gitignored); the fixtures are in
conftest.py.
"""

import re
from pathlib import Path

import pytest

from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from tests.browser.conftest import IBAN, PASSWORD, SERVICE_CODE, SIRET, shot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_staff_member_sends_the_guides_invoice(live_server, office, page):
    from playwright.sync_api import expect

    buyer = office["buyer"]
    page.goto(live_server.url + "/invoices/new/")
    assert "/login/" in page.url
    page.fill("#id_username", "camille")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Nouvelle facture")

    # Defaults: the number comes at issue (the next one shown), IBAN from the account, the
    # legal notes.
    expect(page.locator("#invoice-number")).to_contain_text("F2026-00001")
    expect(page.locator("#id_iban")).to_have_value(IBAN)
    expect(page.locator("#id_recovery")).to_contain_text("40 €")

    # The buyer, then its service: its requirements show at once.
    page.select_option("#id_buyer", str(buyer.pk))
    expect(page.locator("#buyer-rules")).to_contain_text("13001533200013")
    service = buyer.services.get(code=SERVICE_CODE)
    page.select_option("#id_service", str(service.pk))
    expect(page.locator("#po-required")).to_have_text("obligatoire")
    page.fill("#id_po_number", "0123456")

    # The line; its total and the invoice's are recomputed live by the server.
    page.fill("#id_lines-0-description", "Cocktail Dinatoire")
    page.fill("#id_lines-0-quantity", "135")
    page.fill("#id_lines-0-unit_price", "25,00")
    page.fill("#id_lines-0-vat_rate", "10")
    expect(page.locator("#lines-0-total")).to_have_text(re.compile(r"3\s375,00"))
    expect(page.locator("#total-total")).to_contain_text(re.compile(r"3\s712,50"))
    expect(page.locator("#total-tax")).to_contain_text(re.compile(r"337,50"))

    # A line added then removed without a reload leaves the totals as they were.
    page.click("#add-line")
    expect(page.locator("#id_lines-1-description")).to_be_visible()
    expect(page.locator("#id_lines-TOTAL_FORMS")).to_have_value("2")
    page.fill("#id_lines-1-description", "Extra")
    page.fill("#id_lines-1-quantity", "1")
    page.fill("#id_lines-1-unit_price", "100")
    expect(page.locator("#total-total")).to_contain_text(re.compile(r"3\s832,50"))
    page.locator("#lines-1 button.remove").click()
    expect(page.locator("#lines-1")).to_have_count(0)
    expect(page.locator("#total-total")).to_contain_text(re.compile(r"3\s712,50"))
    shot(page, "invoice-form")

    # Checked, then sent.
    page.click("button[value=check]")
    expect(page.locator("#check-result")).to_contain_text("peut partir")
    invoice = Invoice.objects.get(account=office["account"])
    assert invoice.number == "" and str(invoice.total) == "3712.50"  # a draft: no number yet
    page.click("button[value=send]")
    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.pk}/$"))
    assert any("Chorus Pro" in question for question in page.dialogs)  # asked before sending
    expect(page.locator("h1")).to_contain_text("F2026-00001")
    invoice.refresh_from_db()
    assert invoice.number == "F2026-00001"

    # The page follows the invoice by itself (htmx polling) up to accepted or beyond.
    expect(page.locator("#invoice-progress .badge")).to_have_attribute(
        "data-state", re.compile(r"^(accepted|paid|closed)$"), timeout=90_000)
    expect(page.locator("#invoice-progress")).to_contain_text("Télécharger le XML légal",
                                                              timeout=30_000)
    shot(page, "invoice-detail")

    with page.expect_download() as download_info:
        page.click("text=Télécharger le XML légal")
    content = Path(download_info.value.path()).read_bytes()
    invoice.refresh_from_db()
    assert invoice.state in (S.ACCEPTED, S.PAID, S.CLOSED)
    assert content == bytes(invoice.legal_documents.get().content)
    assert SERVICE_CODE.encode() in content and b"0123456" in content
    assert SIRET.encode() in content

    page.click("text=Voir le XML légal")
    expect(page.locator("pre.xml")).to_contain_text(SERVICE_CODE)

    page.goto(live_server.url + f"/invoices/{invoice.pk}/print/")
    expect(page.locator("h1")).to_contain_text("F2026-00001")
    shot(page, "invoice-print")

    page.goto(live_server.url + "/invoices/")
    expect(page.locator("table.invoices")).to_contain_text("F2026-00001")
    shot(page, "invoice-list")

    # A sent invoice no longer opens for editing.
    page.goto(live_server.url + f"/invoices/{invoice.pk}/edit/")
    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.pk}/$"))
    expect(page.locator(".message")).to_contain_text("ne se modifie plus")

    # A partial credit note: 35 of the 135, prepared, checked, sent under the next number.
    page.click("text=Faire un avoir")
    expect(page.locator("h1")).to_contain_text("Faire un avoir")
    line = invoice.lines.get()
    page.fill(f"#id_qty-{line.pk}", "35")
    shot(page, "credit-note-form")
    page.click("button:has-text('Préparer l')")
    expect(page.locator("h1")).to_contain_text("Avoir")
    expect(page.locator("main")).to_contain_text(re.compile(r"962,50"))
    expect(page.locator("main")).to_contain_text(office["buyer"].name)
    page.click("button:has-text('Envoyer à Chorus Pro')")
    expect(page.locator("h1")).to_contain_text("Avoir F2026-00002")
    shot(page, "credit-note-detail")
    page.goto(live_server.url + f"/invoices/{invoice.pk}/")
    expect(page.locator("p.credited")).to_contain_text(re.compile(r"reste : 2\s750,00"))
    page.goto(live_server.url + "/invoices/")
    expect(page.locator("table.invoices")).to_contain_text(re.compile(r"-962,50"))
    expect(page.locator(".state-summary")).to_contain_text(re.compile(r"2\s750,00"))
    shot(page, "invoice-list-with-credit-note")


def test_the_form_points_at_what_blocks_sending(live_server, office, page):
    from playwright.sync_api import expect

    page.goto(live_server.url + "/login/?next=/invoices/new/")
    page.fill("#id_username", "camille")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.select_option("#id_buyer", str(office["buyer"].pk))
    expect(page.locator("#buyer-rules")).to_contain_text("13001533200013")
    page.fill("#id_lines-0-description", "Exonéré")
    page.fill("#id_lines-0-quantity", "1")
    page.fill("#id_lines-0-unit_price", "10")
    page.select_option("#id_lines-0-vat_category", "E")
    page.fill("#id_lines-0-vat_rate", "0")
    page.click("button[value=send]")
    expect(page.locator(".message.error")).to_contain_text("Envoi refusé")
    for field in ("id_service", "id_po_number", "id_lines-0-exemption_code"):
        error = page.locator(f"#{field}_error")
        expect(error).to_be_visible()
        expect(page.locator(f"#{field}")).to_have_attribute("aria-describedby",
                                                            re.compile(f"{field}_error"))
    shot(page, "invoice-form-problems")
    # Nothing half-done is kept: what was typed is still in the form, nothing is saved.
    expect(page.locator("#id_lines-0-description")).to_have_value("Exonéré")
    assert not Invoice.objects.filter(account=office["account"]).exists()

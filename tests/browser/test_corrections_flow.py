"""What a new user tripped over, walked again in the browser: a credit note cannot go to another
buyer, a refused routing correction changes nothing, a text file named .pdf is refused beside
its field, and the history reads in the page's language."""

import pytest

from invoicing.models import Invoice, InvoiceState
from tests.browser.conftest import shot, sign_in
from tests.factories import BuyerFactory, InvoiceFactory
from tests.invoicing.helpers import set_state

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_credit_note_keeps_its_buyer_and_credits_what_is_typed(office, page, live_server):
    from playwright.sync_api import expect

    invoice = set_state(InvoiceFactory(account=office["account"], buyer=office["buyer"],
                                       service=office["buyer"].services.first(),
                                       number="F2026-00041"), InvoiceState.SENT)
    BuyerFactory(account=office["account"], siret="21690123100011", name="COMMUNE DE LYON")
    sign_in(page, live_server, office["user"].username, f"/invoices/{invoice.pk}/")
    page.click("text=Faire un avoir")
    line = invoice.lines.first()
    page.fill(f"#id_qty-{line.pk}", "")
    page.fill(f"#id_amount-{line.pk}", "100")
    shot(page, "credit-note-by-amount")
    page.click("button:has-text('Préparer l')")
    expect(page.locator("main")).to_contain_text("Avoir sur la facture")
    note = Invoice.objects.get(credited_invoice=invoice)
    # its edit page offers no buyer, and says to whom it goes
    page.goto(live_server.url + f"/invoices/{note.pk}/edit/")
    expect(page.locator("h1")).to_contain_text("Modifier l'avoir")
    assert page.locator("#id_buyer").count() == 0
    expect(page.locator("main")).to_contain_text(office["buyer"].name)
    shot(page, "credit-note-edit")
    note.refresh_from_db()
    assert note.buyer_id == invoice.buyer_id and str(note.total) == "110.00"


def test_a_refused_routing_correction_changes_nothing(office, page, live_server):
    from playwright.sync_api import expect

    invoice = set_state(InvoiceFactory(account=office["account"], buyer=office["buyer"],
                                       service=office["buyer"].services.first(),
                                       number="F2026-00042", po_number="0123456"),
                        InvoiceState.REFUSED, "A_RECYCLER", "Engagement inconnu")
    sign_in(page, live_server, office["user"].username, f"/invoices/{invoice.pk}/fix/")
    page.fill("#id_po_number", "")
    page.click("main button:has-text('Corriger et renvoyer')")
    expect(page.locator(".message.error")).to_contain_text("rien n'a été modifié")
    shot(page, "routing-fix-refused")
    invoice.refresh_from_db()
    assert invoice.po_number == "0123456" and invoice.state == InvoiceState.REFUSED
    assert not invoice.events.filter(code="routing_fixed").exists()


def test_a_text_file_named_pdf_is_refused_and_the_history_follows_the_language(
        office, page, live_server, tmp_path):
    from playwright.sync_api import expect

    draft = InvoiceFactory(account=office["account"], buyer=office["buyer"], number="")
    fake = tmp_path / "facture.pdf"
    fake.write_text("Ceci n'est pas un PDF")
    sign_in(page, live_server, office["user"].username, f"/invoices/{draft.pk}/edit/")
    page.set_input_files("#attachments input[type=file]", str(fake))
    page.click("#attachments button:has-text('Joindre')")
    expect(page.locator("#attachments")).to_contain_text("malgré son nom")
    shot(page, "attachment-not-a-pdf")
    assert not draft.attachments.exists()
    real = tmp_path / "bon.pdf"
    real.write_bytes(b"%PDF-1.4\n% bon\n%%EOF\n")
    page.set_input_files("#attachments input[type=file]", str(real))
    page.click("#attachments button:has-text('Joindre')")
    expect(page.locator("#attachments")).to_contain_text("bon.pdf")
    page.goto(live_server.url + f"/invoices/{draft.pk}/")
    expect(page.locator("main")).to_contain_text("Pièce jointe ajoutée : bon.pdf")
    page.context.add_cookies([{"name": "django_language", "value": "en",
                               "url": live_server.url}])
    page.reload()
    expect(page.locator("main")).to_contain_text("Attachment added: bon.pdf")
    assert "Pièce jointe ajoutée" not in page.locator("main").inner_text()
    shot(page, "history-in-english")

"""Finance in a real headless Chromium: a payment recorded on a late invoice moves its balance,
a reminder goes to the buyer, the ageing balance and the dashboard say where money stands, and a
month's entries download, in French at desktop width and in English at phone width."""

import datetime
import re
from pathlib import Path

import pytest
from django.core import mail

from invoicing.models import InvoiceState as S
from tests.browser.conftest import shot, sign_in
from tests.factories import BuyerFactory, InvoiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_finance_records_a_payment_reminds_and_reads_the_books(live_server, page, settings):
    from playwright.sync_api import expect

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    today = datetime.date.today()
    buyer = BuyerFactory(billing_email="factures@univ-amu.fr")
    invoice = set_state(InvoiceFactory(
        account=buyer.account, buyer=buyer, number="F-FIN-1",
        issue_date=today - datetime.timedelta(days=50),
        due_date=today - datetime.timedelta(days=20)), S.SENT)  # 3 712,50
    user_in("finance", buyer.account, username="dominique",
            password="correct horse battery staple")

    sign_in(page, live_server, "dominique", f"/finance/invoices/{invoice.pk}/payments/")
    expect(page.locator("#payment-balance")).to_contain_text(re.compile(r"3\s712,50"))
    page.fill("#id_amount", "1 000,00")
    page.fill("#id_reference", "VIR UNIV AMU 42")
    page.click("#payment-form button[type=submit]")
    expect(page.locator("#payment-balance")).to_contain_text(re.compile(r"2\s712,50"))
    expect(page.locator("#payments")).to_contain_text("VIR UNIV AMU 42")
    shot(page, "finance-payments")

    page.click("text=Relancer l'acheteur")
    expect(page.locator("#id_subject")).to_have_value(re.compile("F-FIN-1"))
    page.click("#reminder-form button[type=submit]")
    expect(page.locator(".message")).to_contain_text("Relance n° 1 envoyée")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["factures@univ-amu.fr"]

    page.goto(live_server.url + "/finance/balance/")
    expect(page.locator("#balance")).to_contain_text(re.compile(r"2\s712,50"))
    shot(page, "finance-balance")
    page.goto(live_server.url + "/")
    expect(page.locator("#money-figures")).to_contain_text(re.compile(r"1\s000,00"))
    shot(page, "finance-dashboard")
    page.select_option("#figures-buyer-id", str(buyer.pk))
    page.click("#figures-buyer button[type=submit]")
    expect(page.locator("#buyer-open")).to_contain_text("F-FIN-1")
    expect(page.locator("#buyer-payments")).to_contain_text(re.compile(r"1\s000,00"))
    shot(page, "finance-buyer")

    # The bank's CSV: its columns said once (the guesses are right), the credit proposed for
    # the invoice it names, recorded once confirmed.
    day = today.strftime("%d/%m/%Y")
    statement = (f"Compte 00012345678;;;\r\nDate opération;Libellé;Débit;Crédit\r\n"
                 f"{day};VIR UNIV AMU F-FIN-1;;500,00\r\n{day};FRAIS;12,00;\r\n")
    page.goto(live_server.url + "/finance/statements/")
    page.set_input_files("#statement-file", files=[{
        "name": "releve.csv", "mimeType": "text/csv", "buffer": statement.encode("cp1252")}])
    page.click("form[enctype] button[type=submit]")
    expect(page.locator("#statement-columns")).to_contain_text("Quelle colonne")
    expect(page.locator("#statement-preview")).to_contain_text("VIR UNIV AMU F-FIN-1")
    shot(page, "finance-statement-columns")
    page.click("#statement-columns button[type=submit]")
    expect(page.locator("#proposals")).to_contain_text("F-FIN-1")
    shot(page, "finance-statement-proposals")
    page.click("#proposals ~ button[type=submit]")
    expect(page.locator("#statement-done")).to_contain_text("1 paiement enregistré")

    # One transfer shared among the buyer's open invoices, from its page.
    page.goto(live_server.url + f"/finance/buyers/?buyer={buyer.pk}")
    page.fill("#id_total", "200,00")
    page.fill("#id_reference", "VIR AMU LOT 7")
    page.fill(f"#amount-{invoice.pk}", "200,00")
    shot(page, "finance-transfer")
    page.click("#transfer-form button[type=submit]")
    expect(page.locator(".message")).to_contain_text("1 paiement enregistré")
    expect(page.locator("#buyer-open")).to_contain_text(re.compile(r"2\s012,50"))

    page.goto(live_server.url + "/finance/books/")
    page.fill("#id_start", (today - datetime.timedelta(days=60)).isoformat())
    page.fill("#id_end", today.isoformat())
    with page.expect_download() as download_info:
        page.click("button[name=download]")
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert text.startswith("JournalCode\t") and "F-FIN-1" in text

    page.set_viewport_size({"width": 390, "height": 844})
    page.context.add_cookies([{"name": "django_language", "value": "en",
                               "url": live_server.url}])
    page.goto(live_server.url + f"/finance/invoices/{invoice.pk}/payments/")
    expect(page.locator("h1")).to_contain_text("Payments of invoice F-FIN-1")
    expect(page.locator("#payment-balance")).to_contain_text("Remaining due")
    shot(page, "finance-payments-en-phone")
    page.goto(live_server.url + "/finance/balance/")
    expect(page.locator("h1")).to_contain_text("Aged balance")
    shot(page, "finance-balance-en-phone")

"""Choosing the buyer on the invoice form: the one a SIRET lookup makes is the one selected, a
long list of buyers is searchable, and the hand-made buyer's form checks its postal code."""

import pytest

from tests.browser.conftest import shot, sign_in
from tests.factories import BuyerFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

UNKNOWN_SIRET = "40000000600017"  # valid, unknown to the documented directory


def test_the_buyer_made_from_the_forms_lookup_is_the_one_chosen(office, page, live_server):
    from playwright.sync_api import expect

    from directory.models import Buyer

    sign_in(page, live_server, office["user"].username, "/invoices/new/")
    page.click("#buyer-search summary")
    page.fill("#buyer-lookup input[name=siret]", UNKNOWN_SIRET)
    page.click("#buyer-lookup button:has-text('Chercher')")
    expect(page.locator("#buyer-lookup")).to_contain_text("Créer l'acheteur à la main")
    page.fill("#buyer-lookup input[name=name]", "MAIRIE DE TEST")
    page.fill("#buyer-lookup input[name=postalcode]", "1300")  # four digits
    page.click("#buyer-lookup button:has-text(\"Créer l'acheteur\")")
    expect(page.locator("#buyer-lookup")).to_contain_text("5 chiffres")
    page.fill("#buyer-lookup input[name=postalcode]", "13 007")
    page.fill("#buyer-lookup input[name=city]", "MARSEILLE")
    page.click("#buyer-lookup button:has-text(\"Créer l'acheteur\")")
    expect(page.locator("#buyer-lookup")).to_contain_text("MAIRIE DE TEST")
    expect(page.locator("#buyer-lookup")).not_to_contain_text("Aucune entité publique")
    made = Buyer.objects.get(siret=UNKNOWN_SIRET)
    assert made.postalcode == "13007"
    expect(page.locator("#id_buyer")).to_have_value(str(made.pk))
    expect(page.locator("#buyer-rules")).to_contain_text("MAIRIE DE TEST")
    shot(page, "invoice-form-buyer-made-by-lookup")


def test_a_long_list_of_buyers_is_searchable_by_name_or_siret(office, page, live_server):
    from playwright.sync_api import expect
    from stdnum import luhn

    for index in range(30):
        base = f"21000{index:03d}"
        siren = base + luhn.calc_check_digit(base)
        nic = siren + "0001"
        BuyerFactory(account=office["account"], siret=nic + luhn.calc_check_digit(nic),
                     name=f"COMMUNE QX{index:02d}")
    sign_in(page, live_server, office["user"].username, "/invoices/new/")
    box = page.locator("#buyer-filter")
    expect(box).to_be_visible()
    box.fill("commune qx17")
    options = page.locator("#id_buyer option:not([value=''])")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("COMMUNE QX17")
    page.wait_for_timeout(1500)  # whatever the page reloads meanwhile keeps the filter
    expect(options).to_have_count(1)
    box.fill(office["buyer"].siret[:9])
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text(office["buyer"].name)
    page.select_option("#id_buyer", index=1)
    expect(page.locator("#buyer-rules")).to_contain_text(office["buyer"].name)
    shot(page, "invoice-form-buyer-filter")

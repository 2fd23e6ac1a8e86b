"""The admin speaks French fully, writes amounts the reader's way, and its invoice page fits."""

import re

import pytest
from django.urls import reverse

from tests.factories import InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db

ENGLISH = ["Created at", "Updated at", "invoice state total", "sync cursor", "user activity",
           "Ajout de ", "Add "]


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("page", ["admin:index", "admin:directory_buyer_add",
                                  "admin:core_account_add", "admin:auth_user_add",
                                  "admin:auth_group_add", "admin:invoicing_invoice_changelist"])
def test_admin_pages_speak_french(admin_client, page):
    html = admin_client.get(reverse(page), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    for words in ENGLISH:
        assert words not in html, (page, words)


def test_the_admins_invoice_page_writes_amounts_and_states_in_words(admin_client):
    from invoicing.models import InvoiceEvent

    invoice = InvoiceFactory()
    InvoiceEvent.objects.create(invoice=invoice, kind="state", source="webhook",
                                from_state="sent", to_state="refused", chorus_status="REJETEE",
                                reason="Montant erroné")
    html = admin_client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk]),
                            HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert not re.search(r"\d,\d{6}\b", html), "an amount with six decimals"
    assert "25,00" in html and "3\xa0375,00\xa0€" in html
    assert "déposée → refusée" in html
    assert ">REJETEE<" not in html
    assert ">sent<" not in html and ">refused<" not in html


def test_the_buyer_admin_says_how_invoices_reach_the_buyer_in_words(admin_client):
    from tests.factories import BuyerFactory

    buyer = BuyerFactory()
    html = admin_client.get(reverse("admin:directory_buyer_change", args=[buyer.pk]),
                            HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "fr.chorus" not in html and "xml.ubl.invoice.chorus" not in html
    assert "Chorus Pro, par B2Brouter" in html

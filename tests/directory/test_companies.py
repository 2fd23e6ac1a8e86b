"""Companies as buyers, in the same list and widget as public buyers: found by SIRET in the
directory (its transport says it is a company), or typed by hand as a company; registered at
B2Brouter as the DGFiP guide's company contact; its standing in the reform's directory shown."""

import pytest
from django.urls import reverse

from directory import channels
from directory.models import Annuaire, Buyer
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db

LOOKUP = reverse("directory:lookup")
BUYERS = reverse("directory:buyers")
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "buyer-lookup"}
COMPANY_SIRET = "51234567900017"


def test_a_company_found_by_siret_is_created_as_a_company(client, staff_user, account):
    client.force_login(staff_user)
    html = client.get(LOOKUP, {"siret": COMPANY_SIRET}, **HX).content.decode()
    assert "ATELIERS DUPONT SAS" in html and "plateforme agréée" in html
    assert "Règles Chorus Pro" not in html and "Services destinataires" not in html
    response = client.post(BUYERS, {"siret": COMPANY_SIRET, "account": account.pk}, **HX)
    assert response.status_code == 200
    buyer = Buyer.objects.get(siret=COMPANY_SIRET)
    assert buyer.public_sector is False and buyer.remote_contact_id
    assert not buyer.services.exists()
    page = client.get(reverse("directory:buyer_detail", args=[buyer.pk])).content.decode()
    assert "SIREN" in page and "512345679" in page and "Annuaire de la facturation" in page
    wait_for(lambda: client.get(reverse("directory:buyer_detail", args=[buyer.pk])) and
             Buyer.objects.get(pk=buyer.pk).annuaire == Annuaire.REGISTERED, timeout=5)


def test_a_company_typed_by_hand_is_a_company_contact(client, staff_user, account):
    client.force_login(staff_user)
    response = client.post(BUYERS, {"siret": "73282932000074", "account": account.pk,
                                    "manual": "True", "kind": "company",
                                    "name": "SCIERIE DU LAC", "city": "ANNECY",
                                    "other_services": "IGNORED"}, **HX)
    assert response.status_code == 200
    buyer = Buyer.objects.get(siret="73282932000074")
    assert buyer.public_sector is False and not buyer.services.exists()
    data = channels.contact_data(buyer)
    assert (data.transport_type_code, data.document_type_code) == (
        "peppol", "xml.ubl.invoice.frcius.v1")
    assert data.cin_scheme == "0009" and data.public_sector is False


def test_the_documented_entry_decides_by_its_transport():
    assert channels.entry_is_public({"Invoice": {"transport_type_code": "fr.chorus"}})
    assert not channels.entry_is_public({"Invoice": {"transport_type_code": "peppol"}})
    assert not channels.entry_is_public({"public_sector": False})
    assert channels.entry_is_public({})  # the Chorus Pro directory this product started with


def test_a_company_by_its_siren_is_typed_and_registered_under_scheme_0002(client, staff_user,
                                                                          account):
    client.force_login(staff_user)
    html = client.get(LOOKUP, {"siret": "443 061 841"}, **HX).content.decode()
    assert "se consulte par SIRET" in html and 'name="manual"' in html
    assert "Règles Chorus Pro" not in html  # a SIREN: a company, no Chorus Pro rules
    response = client.post(BUYERS, {"siret": "443061841", "account": account.pk,
                                    "manual": "True", "name": "SCIERIE DU LAC"}, **HX)
    assert response.status_code == 200
    buyer = Buyer.objects.get(siret="443061841")
    assert buyer.by_siren and not buyer.public_sector and buyer.remote_contact_id
    assert channels.contact_identity(buyer) == ("0002", "443061841")


@pytest.mark.parametrize("typed, message", [
    ("443061842", "clé de contrôle"),  # a SIREN with a wrong checksum
    ("4430618", "un SIREN 9"),  # neither a SIRET nor a SIREN
])
def test_a_wrong_siren_is_said_where_it_was_typed(client, staff_user, typed, message):
    client.force_login(staff_user)
    html = client.get(LOOKUP, {"siret": typed}, **HX).content.decode()
    assert message in html and not Buyer.objects.exists()


def test_a_public_siren_typed_as_a_company_is_refused(client, staff_user, account):
    client.force_login(staff_user)
    response = client.post(BUYERS, {"siret": "130015332", "account": account.pk,
                                    "manual": "True", "name": "UNIVERSITE"}, **HX)
    assert "entité publique" in response.content.decode()
    assert not Buyer.objects.exists()

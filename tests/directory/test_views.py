"""The lookup widget and the buyer pages: htmx partials, plain-form fallbacks, roles, accounts."""

import pytest
from django.urls import reverse

from core.roles import STAFF
from directory.models import Buyer, SyncState
from tests.directory.conftest import SEED_SERVICE, SEED_SIRET, make_user
from tests.factories import AccountFactory, BuyerFactory

pytestmark = pytest.mark.django_db

LOOKUP = reverse("directory:lookup")
BUYERS = reverse("directory:buyers")
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "buyer-lookup"}


def test_anonymous_users_go_to_the_login_page(client):
    for url in [LOOKUP, BUYERS]:
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_users_without_a_role_are_refused(client, account):
    client.force_login(make_user(None, account))
    assert client.get(LOOKUP).status_code == 403
    assert client.get(BUYERS).status_code == 403


def test_the_list_page_shows_the_widget_with_real_forms(client, staff_user):
    client.force_login(staff_user)
    html = client.get(BUYERS).content.decode()
    assert 'id="buyer-lookup"' in html
    assert f'action="{LOOKUP}"' in html and 'method="get"' in html  # works without JavaScript
    assert 'hx-get="' + LOOKUP in html
    assert 'for="buyer-lookup-siret"' in html
    assert "js/htmx.min.js" in html


@pytest.mark.rich_sandbox
def test_htmx_lookup_returns_the_partial_with_flags_and_services(client, staff_user):
    client.force_login(staff_user)
    response = client.get(LOOKUP, {"siret": "130 015 332 00013"}, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<section id="buyer-lookup"')
    assert "UNIVERSITE D AIX MARSEILLE" in html and "58 BD CHARLES LIVON" in html
    assert "Code service obligatoire" in html and "N° d'engagement obligatoire" in html
    assert SEED_SERVICE in html and "ESR_DAF_FACTURES" in html
    assert "ESR_ANCIEN_SERVICE" not in html and "FACTURES_PUBLIQUES" not in html
    assert "Créer l'acheteur" in html
    assert f'action="{BUYERS}"' in html  # the create form posts without JavaScript too


def test_lookup_without_htmx_renders_the_whole_page(client, staff_user):
    client.force_login(staff_user)
    html = client.get(LOOKUP, {"siret": SEED_SIRET}).content.decode()
    assert "<html" in html and "UNIVERSITE D AIX MARSEILLE" in html


@pytest.mark.parametrize("siret, message", [
    ("13001533200014", "clé de contrôle"),
    ("1300153320001", "14 chiffres"),
    ("13001533200O13", "que des chiffres"),
])
def test_an_invalid_siret_is_shown_on_the_field(client, staff_user, siret, message):
    client.force_login(staff_user)
    html = client.get(LOOKUP, {"siret": siret}, **HX).content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="buyer-lookup-help buyer-lookup-siret-error"' in html
    assert 'id="buyer-lookup-siret-error"' in html


def test_an_unknown_siret_says_so_and_offers_to_create_it_by_hand(client, staff_user, account):
    client.force_login(staff_user)
    html = client.get(LOOKUP, {"siret": "73282932000074"}, **HX).content.decode()
    assert "Aucune entité publique" in html and "lookup-error-unknown" in html
    assert "Créer l'acheteur à la main" in html and 'name="manual"' in html
    response = client.post(BUYERS, {"siret": "73282932000074", "account": account.pk,
                                    "manual": "True", "name": "SYNDICAT DES EAUX",
                                    "city": "ANNECY", "engagement_required": "on",
                                    "other_services": "EAU_FACTURES"}, **HX)
    assert response.status_code == 200
    buyer = Buyer.objects.get(siret="73282932000074")
    assert buyer.name == "SYNDICAT DES EAUX" and buyer.engagement_required
    assert buyer.services.get().code == "EAU_FACTURES" and buyer.remote_contact_id


def test_a_manual_buyer_needs_a_name(client, staff_user, account):
    client.force_login(staff_user)
    response = client.post(BUYERS, {"siret": "73282932000074", "account": account.pk,
                                    "manual": "True", "name": ""}, **HX)
    assert "Ce champ est obligatoire" in response.content.decode()
    assert not Buyer.objects.exists()


def test_the_documented_entry_asks_for_the_rules_and_takes_typed_codes(client, staff_user,
                                                                       account):
    """The directory gives the identity only: the rules are ticked, the codes typed."""
    client.force_login(staff_user)
    html = client.get(LOOKUP, {"siret": SEED_SIRET}, **HX).content.decode()
    assert "UNIVERSITE D AIX MARSEILLE" in html
    assert "L'annuaire ne les publie pas" in html and 'name="service_code_required"' in html
    assert "L'annuaire ne publie pas les services de cette structure" in html
    client.post(BUYERS, {"siret": SEED_SIRET, "account": account.pk,
                         "service_code_required": "on", "other_services": SEED_SERVICE}, **HX)
    buyer = Buyer.objects.get(siret=SEED_SIRET)
    assert buyer.service_code_required and not buyer.engagement_required
    service = buyer.services.get()
    assert service.code == SEED_SERVICE and not service.directory_confirmed
    detail = client.get(reverse("directory:buyer_detail", args=[buyer.pk])).content.decode()
    assert "non confirmé par l&#x27;annuaire" in detail or "non confirmé par l'annuaire" in detail


def test_a_malformed_typed_code_is_refused_beside_the_field(client, staff_user, account):
    client.force_login(staff_user)
    html = client.post(BUYERS, {"siret": SEED_SIRET, "account": account.pk,
                                "other_services": "ÉCOLE"}, **HX).content.decode()
    assert "forme d&#x27;un code service" in html or "forme d'un code service" in html
    assert 'id="buyer-create-services-error"' in html
    assert not Buyer.objects.exists()


@pytest.mark.rich_sandbox
def test_staff_creates_the_buyer_and_its_service_with_htmx(client, staff_user, account):
    client.force_login(staff_user)
    response = client.post(BUYERS, {"siret": SEED_SIRET, "account": account.pk,
                                    "services": [SEED_SERVICE], "target": "invoice-form"}, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    buyer = Buyer.objects.get(account=account, siret=SEED_SIRET)
    assert buyer.sync_state == SyncState.SYNCED and buyer.remote_contact_id
    service = buyer.services.get()
    assert service.code == SEED_SERVICE and service.remote_contact_id
    assert "enregistré chez B2Brouter" in html
    # the chosen buyer and service belong to the surrounding page's form
    assert f'name="buyer" value="{buyer.pk}" form="invoice-form"' in html
    assert f'<option value="{service.pk}">' in html


@pytest.mark.rich_sandbox
def test_creating_without_htmx_redirects_to_the_buyer(client, staff_user, account):
    client.force_login(staff_user)
    response = client.post(BUYERS, {"siret": "21750001600019", "account": account.pk,
                                    "services": ["DFA_FACTURES"]})
    buyer = Buyer.objects.get(siret="21750001600019")
    assert response.status_code == 302
    assert response["Location"] == reverse("directory:buyer_detail", args=[buyer.pk])
    html = client.get(response["Location"]).content.decode()
    assert "VILLE DE PARIS" in html and "DFA_FACTURES" in html and "enregistré" in html


@pytest.mark.rich_sandbox
def test_a_service_is_added_to_an_existing_buyer(client, staff_user, account):
    client.force_login(staff_user)
    client.post(BUYERS, {"siret": SEED_SIRET, "account": account.pk, "services": []})
    buyer = Buyer.objects.get(siret=SEED_SIRET)
    html = client.get(LOOKUP, {"siret": SEED_SIRET}, **HX).content.decode()
    assert "Acheteur enregistré dans ce compte" in html and "Ajouter ce service" in html
    response = client.post(reverse("directory:service_add", args=[buyer.pk]),
                           {"code": SEED_SERVICE}, **HX)
    assert response.status_code == 200
    assert buyer.services.get().remote_contact_id


def test_finance_reads_but_does_not_create(client, finance_user, account):
    client.force_login(finance_user)
    html = client.get(LOOKUP, {"siret": SEED_SIRET}, **HX).content.decode()
    assert "UNIVERSITE D AIX MARSEILLE" in html and "Créer l'acheteur" not in html
    response = client.post(BUYERS, {"siret": SEED_SIRET, "account": account.pk})
    assert response.status_code == 403
    assert not Buyer.objects.exists()


def test_users_see_only_their_accounts_buyers(client, account, staff_user):
    mine = BuyerFactory(account=account, siret="21690123100011", name="COMMUNE DE LYON")
    other_account = AccountFactory(name="Autre société")
    theirs = BuyerFactory(account=other_account, siret="21060088800015", name="COMMUNE DE NICE")
    client.force_login(staff_user)
    html = client.get(BUYERS).content.decode()
    assert "COMMUNE DE LYON" in html and "COMMUNE DE NICE" not in html
    assert client.get(reverse("directory:buyer_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("directory:buyer_detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("directory:buyer_register", args=[theirs.pk])).status_code == 404
    # nor create a buyer in someone else's account
    response = client.post(BUYERS, {"siret": "21440109300015", "account": other_account.pk})
    assert response.status_code == 200 and not Buyer.objects.filter(siret="21440109300015").exists()


def test_search_by_siret_or_name_returns_the_table_partial(client, account, staff_user):
    BuyerFactory(account=account, siret="21690123100011", name="COMMUNE DE LYON")
    BuyerFactory(account=account, siret="21060088800015", name="COMMUNE DE NICE")
    client.force_login(staff_user)
    hx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "buyer-table"}
    html = client.get(BUYERS, {"q": "lyon"}, **hx).content.decode()
    assert html.lstrip().startswith('<table class="table cards" id="buyer-table"')
    assert "COMMUNE DE LYON" in html and "COMMUNE DE NICE" not in html
    html = client.get(BUYERS, {"q": "210 600"}, **hx).content.decode()
    assert "COMMUNE DE NICE" in html and "COMMUNE DE LYON" not in html


def test_a_registration_failure_is_shown_and_can_be_retried(client, account, staff_user):
    buyer = BuyerFactory(account=account, siret="21060088800015", name="")
    client.force_login(staff_user)
    client.post(reverse("directory:buyer_register", args=[buyer.pk]))
    html = client.get(reverse("directory:buyer_detail", args=[buyer.pk])).content.decode()
    assert "échec" in html and "B2Brouter refuse le contact" in html
    Buyer.objects.filter(pk=buyer.pk).update(name="COMMUNE DE NICE")
    client.post(reverse("directory:buyer_register", args=[buyer.pk]))
    buyer.refresh_from_db()
    assert buyer.sync_state == SyncState.SYNCED and buyer.sync_error == ""


def test_a_user_with_two_accounts_chooses_one(client, account):
    second = AccountFactory(name="Seconde société", remote_id=account.remote_id + 10**9)
    user = make_user(STAFF, account, second)
    client.force_login(user)
    html = client.get(LOOKUP, {"siret": SEED_SIRET}, **HX).content.decode()
    assert 'name="account"' in html and "Seconde société" in html


def test_a_typed_service_is_added_to_an_existing_buyer(client, staff_user, account):
    client.force_login(staff_user)
    buyer = BuyerFactory(account=account)
    response = client.post(reverse("directory:service_add", args=[buyer.pk]),
                           {"code": "ESR_DAF_FACTURES"}, follow=True)
    service = buyer.services.get()
    assert service.code == "ESR_DAF_FACTURES" and not service.directory_confirmed
    assert service.remote_contact_id
    assert "non confirmé par l" in response.content.decode()
    response = client.post(reverse("directory:service_add", args=[buyer.pk]),
                           {"code": "FACTURES_PUBLIQUES"}, follow=True)
    assert "réservé aux factures entre entités publiques" in response.content.decode()
    assert buyer.services.count() == 1

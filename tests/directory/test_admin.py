"""Django admin for buyers and services: list, search, filters, add by SIRET, edits pushed to
B2Brouter, actions, history."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from core.gateway import b2brouter_client
from directory import services
from directory.models import Buyer, Service, SyncState
from tests.directory.conftest import SEED_SERVICE, SEED_SIRET
from tests.factories import BuyerFactory, ServiceFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:directory_buyer_changelist")
ADD = reverse("admin:directory_buyer_add")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _messages(response) -> str:
    return " | ".join(str(m) for m in response.context["messages"])


def test_changelist_search_and_filters(admin_client, account):
    BuyerFactory(account=account, siret="21690123100011", name="COMMUNE DE LYON")
    BuyerFactory(account=account, siret="21060088800015", name="COMMUNE DE NICE",
                 service_code_required=False, sync_state=SyncState.FAILED)
    response = admin_client.get(CHANGELIST)
    assert "COMMUNE DE LYON" in response.content.decode()
    titles = {str(spec.title) for spec in response.context["cl"].filter_specs}
    assert {"secteur public", "état chez B2Brouter", "code service obligatoire",
            "n° d'engagement obligatoire"} <= titles

    def names(**params):
        response = admin_client.get(CHANGELIST, params)
        return sorted(b.name for b in response.context["cl"].result_list)

    assert names(q="216 901 231 00011") == ["COMMUNE DE LYON"]  # spaces tolerated
    assert names(q="nice") == ["COMMUNE DE NICE"]
    assert names(sync_state__exact="failed") == ["COMMUNE DE NICE"]
    assert names(service_code_required__exact="1") == ["COMMUNE DE LYON"]


def test_add_form_asks_for_account_and_siret_the_rest_optional(admin_client):
    form = admin_client.get(ADD).context["adminform"].form
    assert list(form.fields)[:3] == ["account", "siret", "service_codes"]
    assert not any(form.fields[name].required for name in list(form.fields)[2:])


@pytest.mark.rich_sandbox
def test_add_by_siret_fills_from_the_directory_and_registers(admin_client, account):
    response = admin_client.post(ADD, {"account": account.pk, "siret": "130 015 332 00013",
                                       "service_codes": SEED_SERVICE}, follow=True)
    buyer = Buyer.objects.get(account=account, siret=SEED_SIRET)
    assert buyer.name == "UNIVERSITE D AIX MARSEILLE" and buyer.service_code_required
    assert buyer.sync_state == SyncState.SYNCED and buyer.remote_contact_id
    service = buyer.services.get()
    assert service.code == SEED_SERVICE and service.remote_contact_id
    assert "enregistré chez B2Brouter" in _messages(response)
    assert LogEntry.objects.filter(object_id=str(buyer.pk)).exists()  # history


@pytest.mark.rich_sandbox
def test_add_with_blank_codes_takes_every_active_service(admin_client, account):
    admin_client.post(ADD, {"account": account.pk, "siret": "21750001600019"})
    buyer = Buyer.objects.get(siret="21750001600019")
    assert sorted(buyer.services.values_list("code", flat=True)) == ["DFA_FACTURES", "DPE_FACTURES"]
    assert all(s.remote_contact_id for s in buyer.services.all())


@pytest.mark.parametrize("siret, codes, field, message", [
    ("13001533200014", "", "siret", "clé de contrôle"),
    ("73282932000074", "", "siret", "Aucune entité publique"),
    ("73282932000074", "", "siret", "saisissez au moins sa raison sociale"),
    (SEED_SIRET, "FACTURES_PUBLIQUES", "service_codes", "réservé aux factures entre entités"),
    (SEED_SIRET, "ÉCOLE_FACTURES", "service_codes", "n'a pas la forme d'un code service"),
])
def test_add_refuses_with_a_clear_message(admin_client, account, siret, codes, field, message):
    response = admin_client.post(ADD, {"account": account.pk, "siret": siret,
                                       "service_codes": codes})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors[field]
    assert any(message in e for e in errors)
    assert not Buyer.objects.exists()


def test_add_refuses_a_buyer_already_there(admin_client, account):
    BuyerFactory(account=account)
    response = admin_client.post(ADD, {"account": account.pk, "siret": SEED_SIRET})
    assert "existe déjà" in response.content.decode()


def _change_data(buyer: Buyer, **changes) -> dict:
    data = {
        "account": buyer.account_id, "name": buyer.name, "vat_number": buyer.vat_number,
        "public_sector": "on" if buyer.public_sector else "", "address": buyer.address,
        "postalcode": buyer.postalcode, "city": buyer.city, "country": buyer.country,
        "service_code_required": "on" if buyer.service_code_required else "",
        "engagement_required": "on" if buyer.engagement_required else "",
        "services-TOTAL_FORMS": "0", "services-INITIAL_FORMS": "0",
        "services-MIN_NUM_FORMS": "0", "services-MAX_NUM_FORMS": "1000",
    }
    rows = list(buyer.services.all())
    data["services-TOTAL_FORMS"] = data["services-INITIAL_FORMS"] = str(len(rows))
    for i, service in enumerate(rows):
        data.update({f"services-{i}-id": service.pk, f"services-{i}-buyer": buyer.pk,
                     f"services-{i}-code": service.code, f"services-{i}-name": service.name,
                     f"services-{i}-active": "on" if service.active else "",
                     f"services-{i}-engagement_required": "on" if service.engagement_required else ""})
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_edits_to_a_buyer_and_its_unit_are_pushed(admin_client, account):
    service = ServiceFactory(buyer=BuyerFactory(account=account))
    buyer = service.buyer
    services.buyer_register(buyer=buyer)
    buyer.refresh_from_db()
    service.refresh_from_db()
    url = reverse("admin:directory_buyer_change", args=[buyer.pk])
    response = admin_client.post(url, _change_data(
        buyer, address="3 PLACE VICTOR HUGO", **{"services-0-name": "Missions et déplacements"}),
        follow=True)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "mis à jour chez B2Brouter" in _messages(response)
    client = b2brouter_client()
    assert client.get_contact(buyer.remote_contact_id)["address"] == "3 PLACE VICTOR HUGO"
    assert client.get_contact(service.remote_contact_id)["name"] == "Missions et déplacements"


def test_a_new_unit_typed_in_the_inline_creates_the_sub_contact(admin_client, account):
    buyer = BuyerFactory(account=account)
    services.buyer_register(buyer=buyer)
    buyer.refresh_from_db()
    data = _change_data(buyer, **{
        "services-TOTAL_FORMS": "1", "services-0-buyer": buyer.pk,
        "services-0-code": SEED_SERVICE, "services-0-name": "Missions", "services-0-active": "on"})
    admin_client.post(reverse("admin:directory_buyer_change", args=[buyer.pk]), data)
    service = Service.objects.get(buyer=buyer)
    unit = b2brouter_client().get_contact(service.remote_contact_id)
    assert unit["parent_id"] == buyer.remote_contact_id and unit["cin1_value"] == SEED_SERVICE


def test_factures_publiques_is_refused_in_the_inline(admin_client, account):
    buyer = BuyerFactory(account=account)
    data = _change_data(buyer, **{
        "services-TOTAL_FORMS": "1", "services-0-buyer": buyer.pk,
        "services-0-code": "FACTURES_PUBLIQUES", "services-0-active": "on"})
    response = admin_client.post(reverse("admin:directory_buyer_change", args=[buyer.pk]), data)
    assert "réservé aux factures entre entités publiques" in response.content.decode()
    assert not Service.objects.exists()


def test_a_failed_push_is_shown_and_recorded(admin_client, account):
    buyer = BuyerFactory(account=account)
    services.buyer_register(buyer=buyer)
    buyer.refresh_from_db()
    b2brouter_client().delete_contact(buyer.remote_contact_id)
    response = admin_client.post(reverse("admin:directory_buyer_change", args=[buyer.pk]),
                                 _change_data(buyer, city="MARSEILLE"), follow=True)
    assert "Erreur B2Brouter" in _messages(response)
    buyer.refresh_from_db()
    assert buyer.sync_state == SyncState.FAILED and buyer.city == "MARSEILLE"


@pytest.mark.rich_sandbox
def test_recheck_action_reports_changes_and_logs_them(admin_client, account):
    buyer = services.buyer_create_from_directory(account=account, siret="21750001600019",
                                                 service_codes=["DFA_FACTURES"])
    Buyer.objects.filter(pk=buyer.pk).update(service_code_required=False)
    response = admin_client.post(CHANGELIST, {"action": "recheck_directory",
                                              "_selected_action": [buyer.pk]}, follow=True)
    text = _messages(response)
    assert "code service obligatoire : désormais" in text and "DPE_FACTURES" in text
    buyer.refresh_from_db()
    assert buyer.service_code_required
    assert LogEntry.objects.filter(object_id=str(buyer.pk),
                                   change_message__contains="Revérifié").exists()


@pytest.mark.rich_sandbox
def test_register_action_registers_failed_buyers(admin_client, account):
    buyer = services.buyer_create_from_directory(account=account, siret="21750001600019",
                                                 service_codes=["DFA_FACTURES"])
    Buyer.objects.filter(pk=buyer.pk).update(sync_state=SyncState.FAILED, sync_error="boom")
    response = admin_client.post(CHANGELIST, {"action": "register_at_b2brouter",
                                              "_selected_action": [buyer.pk]}, follow=True)
    assert "1 acheteur enregistré" in _messages(response)
    buyer.refresh_from_db()
    assert buyer.sync_state == SyncState.SYNCED and buyer.remote_contact_id
    assert buyer.services.get().remote_contact_id


def test_change_form_shows_remote_ids_read_only_and_units_inline(admin_client, account):
    service = ServiceFactory(buyer=BuyerFactory(account=account))
    response = admin_client.get(reverse("admin:directory_buyer_change", args=[service.buyer.pk]))
    form = response.context["adminform"].form
    assert "remote_contact_id" not in form.fields and "siret" not in form.fields
    html = response.content.decode()
    assert "id contact b2brouter" in html.lower() and SEED_SERVICE in html
    assert admin_client.get(reverse("admin:directory_buyer_history",
                                    args=[service.buyer.pk])).status_code == 200
    assert admin_client.get(reverse("admin:directory_service_changelist"),
                            {"q": SEED_SERVICE}).status_code == 200


# ---- what B2Brouter documents: the directory gives the identity only, or nothing ------------


def test_add_by_siret_takes_the_identity_and_the_typed_rules(admin_client, account):
    """The documented directory entry has no Chorus Pro rules and no services: the admin's
    ticks stand, the typed code is kept "not confirmed by the directory"."""
    response = admin_client.post(ADD, {
        "account": account.pk, "siret": SEED_SIRET, "service_codes": SEED_SERVICE,
        "service_code_required": "on", "engagement_required": "on"}, follow=True)
    buyer = Buyer.objects.get(account=account, siret=SEED_SIRET)
    assert buyer.name == "UNIVERSITE D AIX MARSEILLE" and buyer.directory_checked_at
    assert buyer.service_code_required and buyer.engagement_required
    assert not buyer.service_code_or_engagement_required and not buyer.flags_from_directory
    service = buyer.services.get()
    assert service.code == SEED_SERVICE and not service.directory_confirmed
    assert service.remote_contact_id and buyer.sync_state == SyncState.SYNCED
    assert "enregistré chez B2Brouter" in _messages(response)


def test_an_unknown_siret_is_created_by_hand(admin_client, account):
    response = admin_client.post(ADD, {
        "account": account.pk, "siret": "732 829 320 00074", "name": "SYNDICAT DES EAUX",
        "address": "1 RUE DU LAC", "postalcode": "74000", "city": "ANNECY",
        "service_codes": "EAU_FACTURES", "engagement_required": "on"}, follow=True)
    buyer = Buyer.objects.get(account=account, siret="73282932000074")
    assert (buyer.name, buyer.city, buyer.engagement_required) == (
        "SYNDICAT DES EAUX", "ANNECY", True)
    assert buyer.directory_checked_at is None and not buyer.flags_from_directory
    assert buyer.services.get().code == "EAU_FACTURES"
    assert buyer.remote_contact_id and buyer.services.get().remote_contact_id
    assert "créé à la main" in _messages(response)


def test_a_directory_that_is_down_does_not_block_the_admin(admin_client, account, settings,
                                                           sandbox_faults):
    sandbox_faults({"queue": [{"kind": "error_5xx", "method": "GET", "path": "/directory/*"}] * 4})
    admin_client.post(ADD, {"account": account.pk, "siret": "21750001600019",
                            "name": "VILLE DE PARIS", "service_code_required": "on"})
    buyer = Buyer.objects.get(account=account, siret="21750001600019")
    assert buyer.name == "VILLE DE PARIS" and buyer.service_code_required


def test_rules_typed_in_the_change_form_become_the_buyers_own(admin_client, account):
    buyer = BuyerFactory(account=account, flags_from_directory=True, service_code_required=False)
    admin_client.post(reverse("admin:directory_buyer_change", args=[buyer.pk]),
                      _change_data(buyer, service_code_required="on"))
    buyer.refresh_from_db()
    assert buyer.service_code_required and not buyer.flags_from_directory

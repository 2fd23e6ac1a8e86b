"""Directory lookups and contact registration, against the real sandbox server."""

import json
import socket
from pathlib import Path

import pytest

import b2brouter
from core.gateway import b2brouter_client
from directory import services, tasks
from directory.models import Buyer, Service, SyncState
from tests.directory.conftest import CONTACTS_POST, DIRECTORY_ROUTE, SEED_SERVICE, SEED_SIRET
from tests.factories import BuyerFactory, ServiceFactory

GUIDE = json.loads((Path(__file__).parents[1] / "b2brouter" / "guide_bodies.json").read_text())

pytestmark = pytest.mark.django_db


# ---- lookup -------------------------------------------------------------------------------


def test_the_documented_entry_gives_the_entity_and_its_invoice_codes(b2b, account):
    """What B2Brouter documents: the entity's basic details and, per document kind, the
    transport and document type; no Chorus Pro rules, no services."""
    entry = services.directory_lookup(siret=SEED_SIRET)
    assert entry["name"] == "UNIVERSITE D AIX MARSEILLE" and entry["cin_value"] == SEED_SIRET
    assert entry["Invoice"]["transport_type_code"] == "fr.chorus"
    assert services.entry_flags(entry) is None and not services.entry_lists_services(entry)
    buyer = services.buyer_create_from_directory(
        account=account, siret=SEED_SIRET, service_codes=[SEED_SERVICE],
        flags={"service_code_required": True, "engagement_required": True})
    assert buyer.service_code_required and buyer.engagement_required
    assert not buyer.flags_from_directory and buyer.transport_type_code == "fr.chorus"
    assert buyer.address == "58 BD CHARLES LIVON" and buyer.directory_checked_at
    service = buyer.services.get()
    assert service.code == SEED_SERVICE and not service.directory_confirmed


def test_typed_service_codes_are_checked_for_form(b2b, account):
    for code, message in [("FACTURES_PUBLIQUES", "réservé"), ("ÉCOLE", "n'a pas la forme"),
                          ("A" * 101, "au plus 100"), ("", "Saisissez")]:
        with pytest.raises(services.DirectoryError) as caught:
            services.buyer_create_by_hand(account=account, siret=SEED_SIRET,
                                          details=services.BuyerDetails(name="AMU"),
                                          service_codes=[code])
        assert message in caught.value.message
    assert not Buyer.objects.exists()


def test_a_buyer_unknown_to_the_directory_is_created_by_hand(b2b, account):
    buyer = services.buyer_create_by_hand(
        account=account, siret="732 829 320 00074",
        details=services.BuyerDetails(name="SYNDICAT DES EAUX", city="ANNECY",
                                      engagement_required=True),
        service_codes=["EAU_FACTURES"])
    assert (buyer.siret, buyer.engagement_required, buyer.directory_checked_at) == (
        "73282932000074", True, None)
    assert services.buyer_register_now_or_later(buyer=buyer)
    buyer.refresh_from_db()
    assert buyer.remote_contact_id and buyer.services.get().remote_contact_id
    with pytest.raises(services.DirectoryError):  # the SIRET is still checked
        services.buyer_create_by_hand(account=account, siret="73282932000075",
                                      details=services.BuyerDetails(name="X"))


@pytest.mark.rich_sandbox
def test_lookup_returns_the_entity_with_its_flags_and_services(b2b):
    entry = services.directory_lookup(siret="130 015 332 00013")
    assert entry["name"] == "UNIVERSITE D AIX MARSEILLE"
    assert entry["chorus"]["service_code_required"] is True
    assert entry["chorus"]["engagement_required"] is True
    codes = [s["code"] for s in services.entry_services(entry)]
    assert SEED_SERVICE in codes
    assert "FACTURES_PUBLIQUES" not in codes  # reserved for public-to-public invoices
    assert "ESR_ANCIEN_SERVICE" not in codes  # closed


def test_a_second_lookup_makes_no_http_call(b2b, sandbox_stats):
    before = sandbox_stats(DIRECTORY_ROUTE)
    calls = b2brouter_client().calls
    services.directory_lookup(siret="21750001600019")
    services.directory_lookup(siret="217 500 016 00019")
    assert sandbox_stats(DIRECTORY_ROUTE) == before + 1
    assert b2brouter_client().calls == calls + 1
    # fresh=True (the admin's re-check) goes to the directory again
    services.directory_lookup(siret="21750001600019", fresh=True)
    assert sandbox_stats(DIRECTORY_ROUTE) == before + 2


def test_the_cache_lasts_directory_cache_seconds(b2b, settings, sandbox_stats):
    settings.DIRECTORY_CACHE_SECONDS = 0  # Django: 0 means "do not cache"
    before = sandbox_stats(DIRECTORY_ROUTE)
    services.directory_lookup(siret="21690123100011")
    services.directory_lookup(siret="21690123100011")
    assert sandbox_stats(DIRECTORY_ROUTE) == before + 2


def test_an_invalid_siret_is_refused_without_any_http_call(b2b, sandbox_stats):
    before = sandbox_stats(DIRECTORY_ROUTE)
    with pytest.raises(services.DirectoryError) as caught:
        services.directory_lookup(siret="13001533200014")
    assert caught.value.kind == "invalid"
    assert sandbox_stats(DIRECTORY_ROUTE) == before


def test_unknown_siret(b2b):
    with pytest.raises(services.DirectoryError) as caught:
        services.directory_lookup(siret="73282932000074")  # valid checksum, not a public entity
    assert caught.value.kind == "unknown"
    assert "Aucune entité publique" in caught.value.message
    assert "73282932000074" in caught.value.message


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_directory_down(b2b, settings, no_retry_client, account):
    settings.B2BROUTER_API_URL = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(services.DirectoryError) as caught:
        services.buyer_create_from_directory(account=account, siret="21310555400017")
    assert caught.value.kind == "unavailable"
    assert "injoignable" in caught.value.message
    assert not Buyer.objects.exists()  # no half-made buyer


def test_directory_timeout(b2b, settings, no_retry_client, sandbox_faults, account):
    settings.B2BROUTER_TIMEOUT = 0.2
    sandbox_faults({"slow_ms": 1500, "queue": [{"kind": "slow", "method": "GET",
                                                "path": "/directory/*"}]})
    with pytest.raises(services.DirectoryError) as caught:
        services.buyer_create_from_directory(account=account, siret="21060088800015")
    assert caught.value.kind == "timeout"
    assert "pas répondu à temps" in caught.value.message
    assert not Buyer.objects.exists()


def test_directory_errors_are_not_cached(b2b, settings, no_retry_client):
    url = settings.B2BROUTER_API_URL
    settings.B2BROUTER_API_URL = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(services.DirectoryError):
        services.directory_lookup(siret="21440109300015")
    settings.B2BROUTER_API_URL = url
    assert services.directory_lookup(siret="21440109300015")["name"] == "COMMUNE DE NANTES"


# ---- creating buyers --------------------------------------------------------------------------


@pytest.mark.rich_sandbox
def test_create_from_directory_with_chosen_services(b2b, account):
    buyer = services.buyer_create_from_directory(account=account, siret=SEED_SIRET,
                                                 service_codes=[SEED_SERVICE])
    assert (buyer.name, buyer.address, buyer.city, buyer.postalcode) == (
        "UNIVERSITE D AIX MARSEILLE", "58 BD CHARLES LIVON", "MARSEILLE 7", "13007")
    assert buyer.service_code_required and buyer.engagement_required
    assert not buyer.service_code_or_engagement_required
    assert buyer.vat_number.startswith("FR") and buyer.directory_checked_at
    assert [(s.code, s.name, s.engagement_required) for s in buyer.services.all()] == [
        (SEED_SERVICE, "Factures marché FCM ROP cadre A2", True)]
    assert buyer.sync_state == SyncState.PENDING


@pytest.mark.rich_sandbox
def test_create_refuses_a_reserved_or_closed_service_and_flags_an_unlisted_one(b2b, account):
    for code in ["FACTURES_PUBLIQUES", "ESR_ANCIEN_SERVICE"]:
        with pytest.raises(services.DirectoryError) as caught:
            services.buyer_create_from_directory(account=account, siret=SEED_SIRET,
                                                 service_codes=[code])
        assert code in caught.value.message
    assert not Buyer.objects.exists()
    buyer = services.buyer_create_from_directory(account=account, siret=SEED_SIRET,
                                                 service_codes=["INVENTE", SEED_SERVICE])
    assert {s.code: s.directory_confirmed for s in buyer.services.all()} == {
        "INVENTE": False, SEED_SERVICE: True}


# ---- registration at B2Brouter -------------------------------------------------------------


@pytest.mark.rich_sandbox
def test_registration_payloads_are_the_guides(b2b, account):
    buyer = services.buyer_create_from_directory(account=account, siret=SEED_SIRET,
                                                 service_codes=[SEED_SERVICE])
    assert services.buyer_register_now_or_later(buyer=buyer)
    buyer.refresh_from_db()
    service = buyer.services.get()
    assert buyer.sync_state == service.sync_state == SyncState.SYNCED
    assert buyer.remote_contact_id and service.remote_contact_id and buyer.synced_at

    client = b2brouter_client()
    stored = client.get_contact(buyer.remote_contact_id)
    for key, value in GUIDE["contact"]["contact"].items():
        assert stored[key] == value, key
    unit = client.get_contact(service.remote_contact_id)
    expected = {**GUIDE["org_unit"]["contact"], "parent_id": buyer.remote_contact_id}
    for key, value in expected.items():
        assert unit[key] == value, key


def test_registration_is_idempotent(b2b, account, sandbox_stats):
    buyer = services.buyer_create_from_directory(account=account, siret="21330063500017",
                                                 service_codes=["BDX_FINANCES"])
    services.buyer_register(buyer=buyer)
    posts = sandbox_stats(CONTACTS_POST)
    services.buyer_register(buyer=buyer)
    assert sandbox_stats(CONTACTS_POST) == posts


def test_a_lost_answer_is_retried_without_duplicating_the_contact(
        b2b, account, sandbox_faults, django_capture_on_commit_callbacks):
    buyer = services.buyer_create_from_directory(account=account, siret="21590350100017",
                                                 service_codes=[])
    sandbox_faults({"queue": [{"kind": "lost_response", "method": "POST",
                               "path": "/accounts/*/contacts"}]})
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.buyer_register_now_or_later(buyer=buyer) is False
    buyer.refresh_from_db()
    assert buyer.sync_state == SyncState.FAILED
    assert "nouvel essai automatique" in buyer.sync_error
    assert buyer.remote_contact_id is None
    assert len(callbacks) == 1  # the retry task, enqueued once the transaction commits

    tasks.buyer_register_task.run(buyer.pk)  # what the worker does

    buyer.refresh_from_db()
    assert buyer.sync_state == SyncState.SYNCED and buyer.sync_error == ""
    contacts = [c for c in b2brouter_client().iter_contacts(account.remote_id)
                if c.get("cin_value") == buyer.siret]
    assert [c["id"] for c in contacts] == [buyer.remote_contact_id]
    assert contacts[0]["integration_code"] == buyer.integration_code == f"CP-{buyer.siret}"


def test_a_lost_answer_for_a_unit_is_not_duplicated_either(b2b, account, sandbox_faults):
    buyer = services.buyer_create_from_directory(account=account, siret="20005374200017",
                                                 service_codes=["HDF_FIN"])
    services.buyer_ensure_registered(buyer=buyer)
    sandbox_faults({"queue": [{"kind": "lost_response", "method": "POST",
                               "path": "/accounts/*/contacts"}]})
    service = buyer.services.get()
    with pytest.raises(b2brouter.TransientError):
        services.service_ensure_registered(service=service)
    services.buyer_register(buyer=Buyer.objects.get(pk=buyer.pk))
    service.refresh_from_db()
    units = [u for u in b2brouter_client().iter_contacts(account.remote_id)
             if u.get("parent_id") == buyer.remote_contact_id and u.get("cin1_value") == "HDF_FIN"]
    assert [u["id"] for u in units] == [service.remote_contact_id]


def test_a_rejected_contact_is_shown_and_not_retried(b2b, account,
                                                    django_capture_on_commit_callbacks):
    buyer = BuyerFactory(account=account, siret="21060088800015", name="")  # B2Brouter wants a name
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.buyer_register_now_or_later(buyer=buyer) is False
    buyer.refresh_from_db()
    assert buyer.sync_state == SyncState.FAILED
    assert "refuse" in buyer.sync_error and "name" in buyer.sync_error.lower()
    assert callbacks == []


def test_the_task_is_declared_as_the_house_wants():
    task = tasks.buyer_register_task
    assert task.name == "directory.buyer_register"
    assert task.acks_late is True
    assert b2brouter.TransientError in task.autoretry_for
    assert task.retry_backoff and task.retry_jitter


def test_verify_recreates_a_contact_deleted_at_b2brouter(b2b, account):
    buyer = services.buyer_create_from_directory(account=account, siret="21350238800019",
                                                 service_codes=[])
    services.buyer_register(buyer=buyer)
    gone = buyer.remote_contact_id
    b2brouter_client().delete_contact(gone)
    services.buyer_register(buyer=buyer, verify=True)
    buyer.refresh_from_db()
    assert buyer.remote_contact_id and buyer.remote_contact_id != gone
    assert buyer.sync_state == SyncState.SYNCED


# ---- pushing edits -----------------------------------------------------------------------


def test_push_sends_edits_to_the_contact_and_unit(b2b, account):
    service = ServiceFactory(buyer=BuyerFactory(account=account))
    services.buyer_register(buyer=service.buyer)
    service.refresh_from_db()
    buyer = service.buyer
    buyer.refresh_from_db()

    buyer.address = "3 PLACE VICTOR HUGO"
    buyer.save()
    services.buyer_push(buyer=buyer)
    service.name = "Missions et déplacements"
    service.save()
    services.service_push(service=service)

    client = b2brouter_client()
    assert client.get_contact(buyer.remote_contact_id)["address"] == "3 PLACE VICTOR HUGO"
    assert client.get_contact(service.remote_contact_id)["name"] == "Missions et déplacements"


def test_push_records_a_failure(b2b, account):
    buyer = BuyerFactory(account=account)
    services.buyer_register(buyer=buyer)
    buyer.refresh_from_db()
    b2brouter_client().delete_contact(buyer.remote_contact_id)
    with pytest.raises(b2brouter.NotFound):
        services.buyer_push(buyer=buyer)
    buyer.refresh_from_db()
    assert buyer.sync_state == SyncState.FAILED and buyer.sync_error


@pytest.mark.rich_sandbox
def test_recheck_reports_what_the_directory_changed(b2b, account):
    buyer = services.buyer_create_from_directory(account=account, siret="21750001600019")
    Buyer.objects.filter(pk=buyer.pk).update(service_code_required=False, city="LUTECE")
    Service.objects.create(buyer=buyer, code="DISPARU", name="Service supprimé",
                           directory_confirmed=True)
    Service.objects.create(buyer=buyer, code="SAISI_A_LA_MAIN")  # typed: the directory never said
    Service.objects.filter(buyer=buyer, code="DPE_FACTURES").delete()
    buyer.refresh_from_db()

    result = services.buyer_recheck(buyer=buyer)

    text = " | ".join(result.changes)
    assert "code service obligatoire : désormais" in text
    assert "LUTECE" in text and result.contact_changed
    assert "DISPARU : fermé" in text
    assert "nouveau service dans l'annuaire : DPE_FACTURES" in text
    buyer.refresh_from_db()
    assert buyer.service_code_required and buyer.city == "PARIS"
    assert not buyer.services.get(code="DISPARU").active
    assert buyer.services.get(code="SAISI_A_LA_MAIN").active
    # nothing else changed: only the new service is still mentioned
    assert services.buyer_recheck(buyer=buyer).changes == [
        "nouveau service dans l'annuaire : DPE_FACTURES"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_buyer_create_one_contact(tmp_path, settings):
    """Two workers register the same buyer at the same moment (each finds no contact, the answers
    are slow): one registers it, the other is told to try again, and B2Brouter holds one contact."""
    import os

    from directory.services import RegistrationInProgress, buyer_ensure_registered
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory, BuyerFactory
    from tests.support.sandbox import SandboxProcess
    from tests.support.threads import at_once

    with SandboxProcess(data_dir=tmp_path, api_key=os.environ["B2BROUTER_API_KEY"],
                        latency_ms=300, documented_only=True) as slow:
        settings.B2BROUTER_API_URL = slow.url
        account = account_register(account=AccountFactory())
        buyer = BuyerFactory(account=account)
        outcomes = [
            "busy" if isinstance(o, RegistrationInProgress) else o
            for o in at_once(lambda: buyer_ensure_registered(
                buyer=type(buyer).objects.get(pk=buyer.pk)), 2, timeout=30)]
        contacts = slow.control(
            "GET", f"/accounts/{account.remote_id}/contacts?integration_code=CP-{buyer.siret}")
        assert len(contacts["contacts"]) == 1
        assert sorted(map(str, outcomes)) == sorted([str(contacts["contacts"][0]["id"]), "busy"])
        again = buyer_ensure_registered(buyer=type(buyer).objects.get(pk=buyer.pk))
        assert again == contacts["contacts"][0]["id"]

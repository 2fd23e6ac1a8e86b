"""The product against what B2Brouter documents, and no more (the sandbox in documented-only
mode, and harsher: a list that ignores every filter).

Contacts are found by their `integration_code` and adopted only when they are what was asked
for; two buyers never share a contact; the seller's SIRET and the buyer's VAT number reach
B2Brouter; every documented state is applied and an unknown one is recorded.
"""

import json
import time
from unittest import mock

import pytest
from lxml import etree

import b2brouter
from b2brouter.webhooks import sign
from core.gateway import b2brouter_client
from directory import services as directory
from directory.models import Buyer, Service, SyncState
from invoicing.models import Invoice, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import legal, remote, submission, webhooks
from tests.conftest import sandbox_bytes, wait_for
from tests.factories import BuyerFactory, InvoiceFactory, ServiceFactory

pytestmark = pytest.mark.django_db

UBL = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
       "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
AMU, PARIS = "13001533200013", "21750001600019"


@pytest.fixture
def filters_ignored(b2b):
    """The list endpoints answer every contact and invoice of the account, whatever is asked."""
    b2b.control("POST", "/_sandbox/faults", {"ignore_filters": True})
    yield
    b2b.control("DELETE", "/_sandbox/faults")


def _contact(b2b, account, **fields):
    return b2b.control("POST", f"/accounts/{account.remote_id}/contacts",
                       {"contact": fields})["contact"]


def _sent(invoice, b2b):
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    invoice.refresh_from_db()
    return invoice


def _xml(invoice):
    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    return etree.fromstring(bytes(document.content))


@pytest.mark.parametrize("ignored", [False, True], ids=["documented", "filters-ignored"])
def test_two_buyers_and_their_units_each_invoice_names_its_unit(registered_account, b2b,
                                                                ignored, request):
    """The guide's buyer and a second one, each with two units: every invoice reaches B2Brouter
    addressed to its own unit, under its own buyer, and its legal XML names that buyer's SIRET
    and that unit's code."""
    if ignored:
        request.getfixturevalue("filters_ignored")
    units = {}
    for siret, codes in ((AMU, ["ESR_MISSION_FACTURES_DEPLACEMENTS", "ESR_DAF_FACTURES"]),
                         (PARIS, ["DFA_FACTURES", "DPE_FACTURES"])):
        buyer = BuyerFactory(account=registered_account, siret=siret, name=f"BUYER {siret}",
                             service_code_required=True, engagement_required=False)
        for code in codes:
            units[(siret, code)] = ServiceFactory(buyer=buyer, code=code, name=f"Unit {code}",
                                                  engagement_required=False)
        assert directory.buyer_register_now_or_later(buyer=buyer)

    contacts = {c["id"]: c for c in b2brouter_client().iter_contacts(registered_account.remote_id)}
    assert len(contacts) == 6  # 2 buyers + 4 units: nothing adopted twice, nothing missing
    for (siret, code), service in units.items():
        service.refresh_from_db()
        buyer = Buyer.objects.get(pk=service.buyer_id)
        unit = contacts[service.remote_contact_id]
        assert unit["parent_id"] == buyer.remote_contact_id and unit["cin1_value"] == code
        assert unit["integration_code"] == service.integration_code
        assert contacts[buyer.remote_contact_id]["cin_value"] == siret

    for (siret, code), service in units.items():
        invoice = _sent(InvoiceFactory(account=registered_account, buyer=service.buyer,
                                       service=service), b2b)
        remote = b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]
        assert remote["contact"]["id"] == service.remote_contact_id
        root = _xml(invoice)
        assert root.xpath("string(cbc:BuyerReference)", namespaces=UBL) == code
        assert root.xpath(
            "string(cac:AccountingCustomerParty//cac:PartyIdentification/cbc:ID[@schemeID='0009'])",
            namespaces=UBL) == siret


def test_no_contact_is_adopted_that_is_not_the_one_asked_for(registered_account, b2b,
                                                             filters_ignored):
    """A list that returns other buyers' contacts: neither a unit claiming our SIRET, nor a
    contact with our integration code and another SIRET, nor another buyer's unit with our
    code, nor our buyer's own contact is ever taken for what we register."""
    first = BuyerFactory(account=registered_account, siret=AMU)
    directory.buyer_ensure_registered(buyer=first)
    first.refresh_from_db()
    second = Buyer(account=registered_account, siret=PARIS, name="VILLE DE PARIS")
    second.save()
    traps = [
        _contact(b2b, registered_account, parent_id=first.remote_contact_id, name="trap unit",
                 cin_value=PARIS, cin_scheme="0009", integration_code=second.integration_code),
        _contact(b2b, registered_account, name="trap entity", cin_value=AMU, cin_scheme="0009",
                 integration_code=second.integration_code, public_sector=True),
        _contact(b2b, registered_account, parent_id=first.remote_contact_id, name="trap office",
                 cin1_scheme="8017", cin1_value="DFA_FACTURES",
                 integration_code=f"CP-{PARIS}-DFA_FACTURES"),
    ]
    # the original defect: the first buyer's unit took the buyer's own contact
    unit = ServiceFactory(buyer=first, code="ESR_MISSION_FACTURES_DEPLACEMENTS")
    directory.service_ensure_registered(service=unit)
    unit.refresh_from_db()
    assert unit.remote_contact_id not in {first.remote_contact_id, *(t["id"] for t in traps)}

    directory.buyer_ensure_registered(buyer=second)
    second.refresh_from_db()
    assert second.remote_contact_id not in {first.remote_contact_id, *(t["id"] for t in traps)}
    office = Service.objects.create(buyer=second, code="DFA_FACTURES")
    directory.service_ensure_registered(service=office)
    office.refresh_from_db()
    assert office.remote_contact_id != traps[2]["id"]
    created = b2brouter_client().get_contact(office.remote_contact_id)
    assert created["parent_id"] == second.remote_contact_id

    # a lost answer then a retry still finds its own contact, not a trap
    Buyer.objects.filter(pk=second.pk).update(remote_contact_id=None)
    second.refresh_from_db()
    assert directory.buyer_ensure_registered(buyer=second) == created["parent_id"]


def test_checks_on_a_listed_contact():
    buyer = Buyer(siret=AMU, integration_code=f"CP-{AMU}")
    service = Service(buyer=buyer, code="X1", integration_code=f"CP-{AMU}-X1")
    assert directory.is_buyer_contact({"cin_value": AMU}, buyer)
    assert directory.is_buyer_contact({"cin_value": "130 015 332 00013",
                                       "integration_code": f"CP-{AMU}"}, buyer)
    assert not directory.is_buyer_contact({"cin_value": PARIS}, buyer)
    assert not directory.is_buyer_contact({"cin_value": AMU, "parent_id": 9}, buyer)
    assert not directory.is_buyer_contact({"cin_value": AMU, "integration_code": "CP-1"}, buyer)
    assert not directory.is_buyer_contact({}, buyer)
    assert directory.is_unit_contact({"parent_id": 7, "cin1_value": "X1"}, service, 7)
    assert directory.is_unit_contact({"parent_id": "7", "integration_code": f"CP-{AMU}-X1"},
                                     service, 7)  # the answer does not show the code
    assert not directory.is_unit_contact({"parent_id": 8, "cin1_value": "X1"}, service, 7)
    assert not directory.is_unit_contact({"parent_id": 7, "cin1_value": "X2"}, service, 7)
    assert not directory.is_unit_contact({"parent_id": 7}, service, 7)
    assert not directory.is_unit_contact({"id": 7, "cin_value": AMU}, service, 7)


def test_two_buyers_never_share_a_contact(registered_account, b2b):
    """A contact already another buyer's is a clear error on the buyer, never a 500."""
    first = BuyerFactory(account=registered_account, siret=AMU)
    directory.buyer_ensure_registered(buyer=first)
    first.refresh_from_db()
    second = BuyerFactory(account=registered_account, siret=PARIS, name="VILLE DE PARIS")
    answer = {**b2brouter_client().get_contact(first.remote_contact_id), "cin_value": PARIS}
    with mock.patch.object(b2brouter_client(), "create_contact", return_value=answer):
        assert directory.buyer_register_now_or_later(buyer=second) is False
    second.refresh_from_db()
    assert second.sync_state == SyncState.FAILED and second.remote_contact_id is None
    assert "déjà celui de" in second.sync_error and first.name in second.sync_error


def test_a_created_contact_that_is_someone_else_is_refused(registered_account, b2b):
    buyer = BuyerFactory(account=registered_account, siret=PARIS, name="VILLE DE PARIS")
    wrong = {"id": 1, "name": "OTHER", "cin_value": AMU}
    with mock.patch.object(b2brouter_client(), "create_contact", return_value=wrong):
        assert directory.buyer_register_now_or_later(buyer=buyer) is False
    buyer.refresh_from_db()
    assert buyer.remote_contact_id is None and "autre contact" in buyer.sync_error


def test_the_sellers_siret_and_the_buyers_vat_number_reach_b2brouter(registered_account, b2b):
    account = b2b.control("GET", f"/accounts/{registered_account.remote_id}")["account"]
    assert (account["cin_value"], account["cin_scheme"]) == (registered_account.siret, "0009")
    invoice = _sent(InvoiceFactory(account=registered_account,
                                   buyer__vat_number="FR84130015332"), b2b)
    contact = b2brouter_client().get_contact(invoice.buyer.remote_contact_id)
    assert (contact["tin_value"], contact["tin_scheme"]) == ("FR84130015332", "9957")
    root = _xml(invoice)
    supplier = "cac:AccountingSupplierParty/cac:Party"
    assert root.xpath(f"string({supplier}/cac:PartyIdentification/cbc:ID[@schemeID='0009'])",
                      namespaces=UBL) == registered_account.siret
    assert root.xpath(f"string({supplier}/cac:PartyLegalEntity/cbc:CompanyID)",
                      namespaces=UBL) == registered_account.siret[:9]


@pytest.mark.parametrize("state", ["allegedly_paid", "paid", "closed", "cancelled", "annulled",
                                   "discarded"])
def test_every_documented_state_is_applied(registered_account, b2b, state):
    invoice = _sent(InvoiceFactory(account=registered_account), b2b)
    b2b.control("POST", f"/_sandbox/invoices/{invoice.remote_id}/state", {"state": state})
    remote.invoice_refresh(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == state
    assert invoice.events.filter(kind=InvoiceEvent.Kind.STATE, to_state=state).count() == 1


def test_an_unknown_state_is_recorded_once_and_changes_nothing(registered_account, b2b):
    invoice = _sent(InvoiceFactory(account=registered_account), b2b)
    unknown = {"id": invoice.remote_id, "state": "being_audited",
               "state_updated_at": "2099-01-01T10:00:00.000Z"}
    for _ in range(2):
        remote.invoice_apply_remote(remote=unknown, source=InvoiceEvent.Source.POLL)
    invoice.refresh_from_db()
    assert invoice.state == S.SENT
    notes = invoice.events.filter(kind=InvoiceEvent.Kind.NOTE, code="unknown_state",
                                  params__state="being_audited")
    assert notes.count() == 1


def test_a_refusal_notified_without_its_reason_is_read_from_b2brouter(
        registered_account, b2b, client, settings, enqueued,
        django_capture_on_commit_callbacks):
    invoice = _sent(InvoiceFactory(account=registered_account), b2b)
    b2b.control("POST", f"/_sandbox/invoices/{invoice.remote_id}/state",
                {"state": "refused", "chorus_status": "REJETEE", "reason": "Doublon de facture"})
    body = json.dumps({"code": "issued_invoice.state_change", "triggered_at": int(time.time()),
                       "data": {"invoice_id": invoice.remote_id, "event_id": 987654,
                                "state": "refused", "notes": None}}).encode()
    enqueued.inline("invoicing.webhook_process", lambda pk: webhooks.webhook_process(event_pk=pk))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/webhooks/b2brouter/", body, content_type="application/json",
                               HTTP_X_B2BROUTER_SIGNATURE=sign(
                                   settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time())))
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.state == S.REFUSED and invoice.chorus_status_reason == "Doublon de facture"


def test_an_invoice_under_our_number_for_another_contact_is_not_adopted(registered_account, b2b):
    """After an ambiguous attempt the invoice is looked up by number; one that is addressed to
    another contact is not ours: it is not adopted, and the taken number is said plainly."""
    invoice = InvoiceFactory(account=registered_account)
    directory.buyer_ensure_registered(buyer=invoice.buyer)
    directory.service_ensure_registered(service=invoice.service)
    other = BuyerFactory(account=registered_account, siret=PARIS, name="VILLE DE PARIS",
                         service_code_required=False, engagement_required=False)
    directory.buyer_ensure_registered(buyer=other)
    other.refresh_from_db()
    b2b.control("POST", f"/accounts/{registered_account.remote_id}/invoices", {"invoice": {
        "number": invoice.number, "date": "2025-06-18", "due_date": "2025-07-18",
        "contact_id": other.remote_contact_id, "invoice_lines_attributes": [
            {"description": "x", "quantity": 1, "price": 1,
             "taxes_attributes": [{"name": "TVA", "category": "S", "percent": 20}]}]}})
    submission.invoice_request_send(invoice_id=invoice.pk)
    Invoice.objects.filter(pk=invoice.pk).update(submit_attempts=1)  # a first attempt was lost
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.state == S.FAILED and invoice.remote_id is None
    assert "taken" in invoice.last_error


def test_the_legal_xml_of_the_session_is_what_b2brouter_serves(registered_account, b2b):
    invoice = _sent(InvoiceFactory(account=registered_account), b2b)
    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    assert bytes(document.content) == sandbox_bytes(b2b, invoice.download_legal_url)
    assert legal.invoice_acknowledge(invoice_id=invoice.pk)  # the documented 204 answer
    document.refresh_from_db()
    assert document.acknowledged_at is not None
    assert b2b.control("GET", f"/invoices/{invoice.remote_id}")["invoice"]["ack_at"]


def test_the_client_raises_nothing_on_a_documented_send_answer(registered_account, b2b):
    client = b2brouter_client()
    contact = _contact(b2b, registered_account, name="X", cin_value=AMU, cin_scheme="0009")
    created = client.create_invoice(registered_account.remote_id, {"invoice": {
        "number": "DOC-1", "date": "2025-06-18", "due_date": "2025-07-18",
        "contact_id": contact["id"], "invoice_lines_attributes": [
            {"description": "x", "quantity": 1, "price": 1,
             "taxes_attributes": [{"name": "TVA", "category": "S", "percent": 20}]}]}})
    assert client.send_invoice(created["id"]) is None  # {"tax_report_ids": []}
    assert client.get_invoice(created["id"])["state"] in ("sending", "sent", "error")
    with pytest.raises(b2brouter.ConflictError):
        client.send_invoice(created["id"])  # sending a second time is refused, not repeated

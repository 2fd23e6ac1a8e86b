"""Documented-only mode: the sandbox does what B2Brouter documents and nothing more.

Undocumented filters are ignored, errors have the documented body only, resources, webhooks and
directory entries carry no invented field, lists promise no order, answers to send and ack take
their documented shapes, and a document in `error` is terminal.
"""

import pytest

from tests.sandbox.conftest import AMU_SERVICE, AMU_SIRET, Api, invoice_body, line, wait_for
from tests.sandbox.test_webhooks import SECRET, Receiver
from tests.support.sandbox import SandboxProcess

INVENTED_INVOICE_FIELDS = {"chorus_status", "chorus_status_reason", "refuse_code",
                           "contract_reference", "billing_framework", "tax_amount", "account_id"}


@pytest.fixture(scope="module")
def documented():
    process = SandboxProcess(send_delay=0.05, webhook_backoff=0.2, documented_only=True).start()
    yield process
    process.stop()


@pytest.fixture
def dapi(documented):
    return Api(documented)


@pytest.fixture
def daccount(dapi):
    return dapi.create_account()


@pytest.fixture
def damu(dapi, daccount):
    return dapi.create_chorus_contact(daccount["id"], AMU_SIRET, "UNIVERSITE D AIX MARSEILLE")


def test_an_error_has_the_documented_body_only(dapi, daccount, damu):
    body = invoice_body(damu["id"], number="")
    response = dapi.post(f"/accounts/{daccount['id']}/invoices", {"invoice": body})
    assert response.status_code == 422
    error = dapi.body(response)["error"]
    assert set(error) == {"code", "message", "type"} and error["code"] == "parameter_blank"
    created = dapi.create_invoice(daccount["id"], damu["id"],
                                  buyer_reference=AMU_SERVICE, ponumber="1")["invoice"]
    again = dapi.post(f"/accounts/{daccount['id']}/invoices", {"invoice": invoice_body(
        damu["id"], number=created["number"], buyer_reference=AMU_SERVICE, ponumber="1")})
    assert dapi.body(again) == {"error": {
        "code": "parameter_taken", "message": "Number has already been taken",
        "type": "invalid_request_error"}}


def test_undocumented_contact_filters_are_ignored(dapi, daccount, damu):
    unit = dapi.create_contact(daccount["id"], name="Unit", parent_id=damu["id"],
                               cin1_scheme="8017", cin1_value=AMU_SERVICE, integration_code="U-1",
                               tin_value=None)
    path = f"/accounts/{daccount['id']}/contacts"
    everyone = {c["id"] for c in dapi.ok("GET", path)["contacts"]}
    assert everyone == {damu["id"], unit["id"]}
    for query in (f"cin_value={AMU_SIRET}", f"parent_id={damu['id']}", f"cin1_value={AMU_SERVICE}"):
        assert {c["id"] for c in dapi.ok("GET", f"{path}?{query}")["contacts"]} == everyone
    assert [c["id"] for c in dapi.ok("GET", f"{path}?integration_code=U-1")["contacts"]] == [
        unit["id"]]
    assert [c["id"] for c in dapi.ok("GET", f"{path}?name=marseille")["contacts"]] == [damu["id"]]


def test_the_directory_entry_has_the_documented_details_only(dapi):
    entry = dapi.ok("GET", f"/directory/fr/0009/{AMU_SIRET}")
    assert "chorus" not in entry and "public_sector" not in entry
    assert entry["cin_value"] == AMU_SIRET and entry["name"] == "UNIVERSITE D AIX MARSEILLE"
    assert entry["Invoice"] == {"transport_type_code": "fr.chorus",
                                "document_type_code": "xml.ubl.invoice.chorus",
                                "other_document_type_codes": []}


def test_resources_carry_no_invented_field_and_undocumented_input_is_ignored(dapi, daccount, damu):
    created = dapi.create_invoice(daccount["id"], damu["id"], buyer_reference=AMU_SERVICE,
                                  ponumber="1", contract_reference="M-1",
                                  billing_framework="A2")["invoice"]
    assert not INVENTED_INVOICE_FIELDS & set(created)
    assert created["payable_amount"] == created["total"]  # billing_framework was ignored


def test_send_and_ack_answer_their_documented_shapes(dapi, daccount, damu):
    created = dapi.create_invoice(daccount["id"], damu["id"], buyer_reference=AMU_SERVICE,
                                  ponumber="1")["invoice"]
    sent = dapi.post(f"/invoices/send_invoice/{created['id']}")
    assert sent.status_code == 200 and dapi.body(sent) == {"tax_report_ids": []}
    assert dapi.post(f"/invoices/send_invoice/{created['id']}").status_code == 409
    dapi.wait_state(created["id"], "sent")
    ack = dapi.post(f"/invoices/{created['id']}/ack")
    assert ack.status_code == 204 and ack.content == b""
    assert dapi.invoice(created["id"])["ack_at"]


def test_a_refused_or_failed_invoice_is_neither_updated_nor_sent_again(dapi, daccount, damu):
    created = dapi.create_invoice(daccount["id"], damu["id"], send=True,
                                  buyer_reference=AMU_SERVICE, ponumber="1")["invoice"]
    dapi.wait_state(created["id"], "sent")
    refused = dapi.set_state(created["id"], "refused", chorus_status="A_RECYCLER")
    assert refused["state"] == "refused" and "chorus_status" in refused  # control: all fields
    shown = dapi.invoice(created["id"])
    assert "chorus_status" not in shown and shown["refuse_reason"]
    assert dapi.put(f"/invoices/{created['id']}", {"invoice": {"ponumber": "2"}}).status_code == 409
    assert dapi.post(f"/invoices/send_invoice/{created['id']}").status_code == 409
    failed = dapi.create_invoice(daccount["id"], damu["id"], send=True,
                                 buyer_reference=AMU_SERVICE, ponumber="1")["invoice"]
    dapi.wait_state(failed["id"], "sent")
    dapi.set_state(failed["id"], "error", reason="Rejet technique")
    assert dapi.post(f"/invoices/send_invoice/{failed['id']}").status_code == 409
    assert dapi.delete(f"/invoices/{failed['id']}").status_code == 200  # delete, then create again


def test_chorus_routing_rules_fail_the_deposit_not_the_creation(dapi, daccount, damu):
    created = dapi.create_invoice(daccount["id"], damu["id"], send=True)["invoice"]  # no code, no PO
    failed = dapi.wait_state(created["id"], "error")
    assert "code service" in failed["errors"][0]["error"]
    assert failed["download_legal_url"] is None


def test_lists_promise_no_order_and_take_the_documented_date(dapi, daccount, damu):
    ids = [dapi.create_invoice(daccount["id"], damu["id"], buyer_reference=AMU_SERVICE,
                               ponumber="1")["invoice"]["id"] for _ in range(3)]
    path = f"/accounts/{daccount['id']}/invoices"
    assert [i["id"] for i in dapi.ok("GET", path)["invoices"]] == ids[::-1]  # newest first
    future = dapi.ok("GET", f"{path}?state_updated_at_from=2099-01-01T00:00:00.000Z")
    assert future["invoices"] == []
    today = dapi.invoice(ids[0])["state_updated_at"][:10]
    # a timestamp is read as its date: later the same day still lists the invoices of the day
    late = dapi.ok("GET", f"{path}?state_updated_at_from={today}T23:59:59.000Z")
    assert {i["id"] for i in late["invoices"]} == set(ids)


def test_ignore_filters_answers_every_item(dapi, daccount, damu, documented):
    dapi.create_contact(daccount["id"], name="Other", integration_code="OTHER")
    path = f"/accounts/{daccount['id']}/contacts?integration_code=NOBODY"
    assert dapi.ok("GET", path)["contacts"] == []
    dapi.ok("POST", "/_sandbox/faults", {"ignore_filters": True})
    try:
        assert len(dapi.ok("GET", path)["contacts"]) == 2
    finally:
        dapi.ok("DELETE", "/_sandbox/faults")


def test_webhooks_carry_the_documented_data_only(tmp_path):
    receiver = Receiver()
    try:
        with SandboxProcess(data_dir=tmp_path, send_delay=0.02, webhook_url=receiver.url,
                            webhook_secret=SECRET, documented_only=True) as server:
            api = Api(server)
            account = api.create_account()
            contact = api.create_contact(account["id"])
            api.create_invoice(account["id"], contact["id"], send=True,
                               lines=[line("Audit", 1, 100, 20)])
            delivered = wait_for(lambda: [b for b in receiver.delivered()
                                          if b["data"]["state"] == "sent"], timeout=10)
    finally:
        receiver.close()
    assert set(delivered[0]) == {"code", "triggered_at", "data"}
    assert set(delivered[0]["data"]) == {"invoice_id", "event_id", "state", "notes"}

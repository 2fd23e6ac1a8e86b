"""States: send, deposit, the control endpoint, routing returns, advance and --advance-after."""

import pytest

from tests.sandbox.conftest import AMU_SERVICE, Api, wait_for
from tests.support.sandbox import SandboxProcess

CHAIN = [("registered", "MISE_A_DISPOSITION"), ("accepted", "SERVICE_FAIT"),
         ("paid", "MISE_EN_PAIEMENT")]


@pytest.fixture
def draft(api, account, amu):
    """A `new` invoice to UNIVERSITE D AIX MARSEILLE."""
    return api.create_invoice(account["id"], amu["id"], buyer_reference=AMU_SERVICE,
                              ponumber="0123456")["invoice"]


def test_new_then_send_then_sent_with_the_legal_xml(api, draft):
    assert draft["state"] == "new" and draft["chorus_status"] is None
    sending = api.ok("POST", f"/invoices/send_invoice/{draft['id']}")["invoice"]
    assert sending["state"] == "sending" and sending["state_updated_at"] >= draft["state_updated_at"]
    sent = api.wait_state(draft["id"], "sent")
    assert sent["chorus_status"] == "DEPOSEE"
    xml = api.get(sent["download_legal_url"], headers={"Accept": "application/xml"})
    assert xml.status_code == 200 and xml.headers["Content-Type"] == "application/xml"
    assert xml.content.startswith(b"<?xml") and b"<cbc:ID>0123456</cbc:ID>" in xml.content
    again = api.get(sent["download_legal_url"])
    assert again.content == xml.content
    conflict = api.post(f"/invoices/send_invoice/{draft['id']}")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"


def test_the_control_endpoint_walks_the_chorus_chain(api, draft):
    api.set_state(draft["id"], "sent")
    assert api.invoice(draft["id"])["download_legal_url"]
    for state, status in CHAIN:
        invoice = api.set_state(draft["id"], state)
        assert (invoice["state"], invoice["chorus_status"]) == (state, status)
    assert api.put(f"/invoices/{draft['id']}", {"invoice": {"notes": "x"}}).status_code == 409
    assert api.delete(f"/invoices/{draft['id']}").status_code == 409
    events = api.ok("GET", f"/_sandbox/invoices/{draft['id']}/events")["events"]
    assert [(e["state"], e["chorus_status"]) for e in events] == [("sent", "DEPOSEE"), *CHAIN]


def test_a_routing_return_is_fixed_and_resent_under_the_same_number(api, draft):
    api.set_state(draft["id"], "sent")
    first_url = api.invoice(draft["id"])["download_legal_url"]
    refused = api.set_state(draft["id"], "refused", chorus_status="A_RECYCLER")
    assert refused["refuse_reason"] == (
        "Code service inconnu ou inactif pour la structure destinataire")
    assert refused["refuse_code"] == "DEST_ERR"
    fixed = api.ok("PUT", f"/invoices/{draft['id']}",
                   {"invoice": {"ponumber": "0123457"}})["invoice"]
    assert fixed["number"] == draft["number"] and fixed["state"] == "refused"
    api.ok("POST", f"/invoices/send_invoice/{draft['id']}")
    resent = api.wait_state(draft["id"], "sent")
    assert resent["refuse_reason"] is None and resent["download_legal_url"] != first_url
    assert b"0123457" in api.get(resent["download_legal_url"]).content
    assert b"0123456" in api.get(first_url).content  # the first deposit's file never changes


@pytest.mark.parametrize("status", ["REJETEE", "SUSPENDUE"])
def test_a_rejection_is_final(api, draft, status):
    api.set_state(draft["id"], "sent")
    refused = api.set_state(draft["id"], "refused", chorus_status=status, reason="Montant faux")
    assert (refused["chorus_status"], refused["refuse_reason"]) == (status, "Montant faux")
    assert api.put(f"/invoices/{draft['id']}", {"invoice": {"notes": "x"}}).status_code == 409
    assert api.post(f"/invoices/send_invoice/{draft['id']}").status_code == 409


def test_error_state_allows_update_send_and_delete(api, draft):
    failed = api.set_state(draft["id"], "error", reason="Deposit refused")
    assert failed["errors"] == [{"error": "Deposit refused", "error_code": "deposit_failed"}]
    api.ok("PUT", f"/invoices/{draft['id']}", {"invoice": {"notes": "fixed"}})
    api.ok("DELETE", f"/invoices/{draft['id']}")
    assert api.get(f"/invoices/{draft['id']}").status_code == 404


def test_update_revalidates_and_recomputes(api, draft):
    response = api.put(f"/invoices/{draft['id']}", {"invoice": {"ponumber": ""}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "chorus_routing"
    lines = [{"description": "Repas", "quantity": 2, "price": "10.5",
              "taxes_attributes": [{"name": "TVA", "category": "S", "percent": 20}]}]
    updated = api.ok("PUT", f"/invoices/{draft['id']}",
                     {"invoice": {"invoice_lines_attributes": lines}})["invoice"]
    assert str(updated["total"]) == "25.20" and len(updated["lines"]) == 1


def test_control_endpoint_rejects_unknown_states(api, draft):
    assert api.post(f"/_sandbox/invoices/{draft['id']}/state", {"state": "lost"}).status_code == 400
    response = api.post(f"/_sandbox/invoices/{draft['id']}/state",
                        {"state": "refused", "chorus_status": "DEPOSEE"})
    assert response.status_code == 400


def test_advance_moves_every_invoice_one_step(api, draft):
    api.set_state(draft["id"], "sent")
    moves = api.ok("POST", "/_sandbox/advance")["moves"]
    assert {"id": draft["id"], "from": "sent", "to": "registered"} in moves


def invoices_to(api, count, send=True):
    account = api.create_account()
    contact = api.create_chorus_contact(account["id"], "21690123100011")  # Lyon: no flags
    return [api.create_invoice(account["id"], contact["id"], send=send)["invoice"]["id"]
            for _ in range(count)]


def test_advance_after_takes_invoices_to_paid():
    with SandboxProcess(send_delay=0.02, advance_after=0.05, refuse_share=0) as sandbox:
        api = Api(sandbox)
        (ident,) = invoices_to(api, 1)
        paid = api.wait_state(ident, "paid")
        assert paid["chorus_status"] == "MISE_EN_PAIEMENT"


def test_advance_after_refusals_alternate_between_routing_return_and_rejection():
    with SandboxProcess(send_delay=0.02, advance_after=0.05, refuse_share=1, seed=7) as sandbox:
        api = Api(sandbox)
        first, second = invoices_to(api, 2)
        api.wait_state(first, "refused")
        api.wait_state(second, "refused")
        statuses = sorted(api.invoice(i)["chorus_status"] for i in (first, second))
        assert statuses == ["A_RECYCLER", "REJETEE"]


def test_payment_status_not_reported_stops_at_accepted():
    with SandboxProcess(send_delay=0.02, advance_after=0.05, refuse_share=0) as sandbox:
        api = Api(sandbox)
        account = api.create_account()
        toulouse = api.create_chorus_contact(account["id"], "21310555400017")
        ident = api.create_invoice(account["id"], toulouse["id"], send=True,
                                   ponumber="EJ1")["invoice"]["id"]
        api.wait_state(ident, "accepted")
        assert api.ok("POST", "/_sandbox/advance")["moves"] == []
        assert api.invoice(ident)["state"] == "accepted"


def test_refusals_are_deterministic_for_a_seed():
    outcomes = []
    for _ in range(2):
        with SandboxProcess(send_delay=0.02, advance_after=0.03, refuse_share=0.5,
                            seed=3) as sandbox:
            api = Api(sandbox)
            # created first, then sent: ids are handed out before any state change takes one
            ids = invoices_to(api, 6, send=False)
            for ident in ids:
                api.ok("POST", f"/invoices/send_invoice/{ident}")
            finals = [_final(api, ident) for ident in ids]
            outcomes.append([(i - ids[0], s) for i, s in zip(ids, finals, strict=True)])
    assert outcomes[0] == outcomes[1]
    assert {"paid", "refused"} == {s for _, s in outcomes[0]}


def _final(api, ident):
    return wait_for(lambda: (s := api.invoice(ident)["state"]) in ("paid", "refused") and s)

"""State lives in the data dir: a restart keeps every resource, the XML and the id counter."""

from tests.sandbox.conftest import AMU_SERVICE, Api
from tests.support.sandbox import SandboxProcess


def test_everything_survives_a_restart(tmp_path):
    with SandboxProcess(data_dir=tmp_path, send_delay=0.02) as sandbox:
        api = Api(sandbox)
        account = api.create_account()
        amu = api.create_chorus_contact(account["id"])
        invoice = api.create_invoice(account["id"], amu["id"], send=True, ponumber="1",
                                     buyer_reference=AMU_SERVICE)["invoice"]
        sent = api.wait_state(invoice["id"], "sent")
        xml = api.get(sent["download_legal_url"]).content
        api.ok("POST", f"/invoices/{invoice['id']}/ack")
        before = api.invoice(invoice["id"], include_lines=True)

        sandbox.restart()
        api = Api(sandbox)
        assert api.ok("GET", f"/accounts/{account['id']}")["account"] == account
        assert api.ok("GET", f"/contacts/{amu['id']}")["contact"] == amu
        assert api.invoice(invoice["id"], include_lines=True) == before
        assert api.get(sent["download_legal_url"]).content == xml
        duplicate = api.post(f"/accounts/{account['id']}/invoices", {"invoice": {
            **_input(before), "contact_id": amu["id"]}})
        assert duplicate.json()["error"]["code"] == "parameter_taken"
        newer = api.create_account(name="After restart")
        assert newer["id"] > max(line["id"] for line in before["lines"])


def _input(invoice):
    lines = [{"description": li["description"], "quantity": li["quantity"], "price": li["price"],
              "taxes_attributes": li["taxes"]} for li in invoice["lines"]]
    return {"number": invoice["number"], "date": invoice["date"], "due_date": invoice["due_date"],
            "ponumber": "1", "buyer_reference": AMU_SERVICE, "invoice_lines_attributes": lines}

"""The French reform as the sandbox models B2Brouter's DGFiP guide: activation (tax report
settings), company contacts checked in the Annuaire, the 422s of a French B2B invoice, Flux 1
tax reports followed to their end with signed webhooks, and a CIUS-FR legal XML that passes the
official BR-FR rules when the invoice carries the data."""

import datetime

import pytest
import requests

from tests.sandbox.conftest import invoice_body, wait_for
from tests.support.en16931 import br_fr_fatal, fatal_rules, xsd_errors

COMPANY_SIRET = "51234567900017"  # ATELIERS DUPONT SAS, in the Annuaire
UNREGISTERED_SIRET = "79012345900014"  # CONSEIL LEROY SA, not in the Annuaire
MENTIONS = {"remittance_information": "Pénalités de retard : trois fois le taux d'intérêt légal.",
            "payment_method_text": "Indemnité forfaitaire pour frais de recouvrement : 40 €.",
            "payment_terms": "Pas d'escompte pour paiement anticipé."}
TODAY = datetime.date.today()


def setting_body(**fields):
    return {"tax_report_setting": {"code": "dgfip", "start_date": TODAY.isoformat(),
                                   "type_operation": "services", "naf_code": "62",
                                   "enterprise_size": "pme", **fields}}


@pytest.fixture
def activated(api, account):
    api.ok("POST", f"/accounts/{account['id']}/tax_report_settings", setting_body())
    return account


def company(api, account, siret=COMPANY_SIRET, name="ATELIERS DUPONT SAS"):
    return api.create_contact(account["id"], name=name, cin_scheme="0009", cin_value=siret,
                              tin_scheme="9957", tin_value="FR75512345679", currency="EUR",
                              transport_type_code="peppol",
                              document_type_code="xml.ubl.invoice.frcius.v1")


def test_activation_answers_the_documented_setting(api, account):
    body = api.ok("POST", f"/accounts/{account['id']}/tax_report_settings", setting_body())
    setting = body["tax_report_setting"]
    assert setting["code"] == "dgfip" and setting["auto_generate"] is True
    assert setting["enabled"] is True and setting["locked"] is False
    assert setting["reason_vat_exempt"] == "VATEX-FR-FRANCHISE"
    shown = api.ok("GET", f"/accounts/{account['id']}/tax_report_settings/dgfip")
    assert shown["tax_report_setting"]["start_date"] == TODAY.isoformat()
    again = api.post(f"/accounts/{account['id']}/tax_report_settings", setting_body())
    assert again.status_code == 422


def test_activation_refuses_what_the_guide_refuses(api, account):
    path = f"/accounts/{account['id']}/tax_report_settings"
    yesterday = (TODAY - datetime.timedelta(days=1)).isoformat()
    bad = api.post(path, setting_body(start_date=yesterday, type_operation="both",
                                      naf_code="6", enterprise_size="huge"))
    assert bad.status_code == 422
    params = {d["param"] for d in api.body(bad)["error"]["details"]}
    assert params == {"start_date", "type_operation", "naf_code", "enterprise_size"}
    public = api.create_account(cin_value="13001533200013", name="UNIVERSITE")
    refused = api.post(f"/accounts/{public['id']}/tax_report_settings", setting_body())
    assert refused.status_code == 422
    assert "SIREN 'Public'" in api.body(refused)["error"]["message"]
    old = requests.post(api.sandbox.url + path, json=setting_body(), timeout=5,
                        headers=api.sandbox.headers("2025-10-13"))
    assert old.status_code == 404


def test_an_annuaire_outage_rolls_the_activation_back(api, account):
    api.ok("POST", "/_sandbox/dgfip", {"annuaire_down": True})
    try:
        failed = api.post(f"/accounts/{account['id']}/tax_report_settings", setting_body())
        assert failed.status_code == 422
        assert api.get(f"/accounts/{account['id']}/tax_report_settings/dgfip").status_code == 404
    finally:
        api.ok("POST", "/_sandbox/dgfip", {"annuaire_down": False})


def test_a_company_contact_is_checked_in_the_annuaire_in_the_background(api, activated):
    contact = company(api, activated)
    assert contact["in_dgfip_annuaire"] is None
    assert wait_for(lambda: api.ok("GET", f"/contacts/{contact['id']}")["contact"]
                    ["in_dgfip_annuaire"] is True)
    other = company(api, activated, UNREGISTERED_SIRET, "CONSEIL LEROY SA")
    assert wait_for(lambda: api.ok("GET", f"/contacts/{other['id']}")["contact"]
                    ["in_dgfip_annuaire"] is False)


def test_a_company_invoice_needs_the_three_mentions(api, activated):
    contact = company(api, activated)
    response = api.post(f"/accounts/{activated['id']}/invoices",
                        {"send_after_import": True, "invoice": invoice_body(contact["id"])})
    assert response.status_code == 422
    messages = {d["param"]: d["message"] for d in api.body(response)["error"]["details"]}
    assert messages["remittance_information"] == (
        "Remittance information is required for DGFiP reporting")
    assert set(messages) == {"remittance_information", "payment_method_text", "payment_terms"}


def test_a_company_invoice_is_reported_and_its_legal_xml_passes_br_fr(api, activated):
    contact = company(api, activated)
    wait_for(lambda: api.ok("GET", f"/contacts/{contact['id']}")["contact"]["in_dgfip_annuaire"])
    invoice = api.create_invoice(activated["id"], contact["id"], send=True,
                                 date=TODAY.isoformat(),
                                 due_date=(TODAY + datetime.timedelta(days=30)).isoformat(),
                                 **MENTIONS)["invoice"]
    assert len(invoice["tax_report_ids"]) == 1
    report_id = invoice["tax_report_ids"][0]
    sent = api.wait_state(invoice["id"], "sent")
    assert api.ok("GET", f"/tax_reports/{report_id}")["tax_report"]["state"] == "sent"
    xml = requests.get(api.sandbox.url + sent["download_legal_url"], timeout=5,
                       headers=api.sandbox.headers()).content
    assert xsd_errors(xml) == [] and fatal_rules(xml) == []
    assert br_fr_fatal(xml) == []
    api.ok("POST", "/_sandbox/advance")
    report = api.ok("GET", f"/tax_reports/{report_id}")["tax_report"]
    assert report["state"] == "registered" and report["invoice_id"] == invoice["id"]
    assert api.invoice(invoice["id"])["state"] == "registered"
    listed = api.ok("GET", f"/accounts/{activated['id']}/tax_reports")["tax_reports"]
    assert [r["id"] for r in listed] == [report_id]


def test_a_refused_tax_report_puts_the_invoice_in_error(api, activated):
    contact = company(api, activated)
    invoice = api.create_invoice(activated["id"], contact["id"], send=True,
                                 date=TODAY.isoformat(), due_date=TODAY.isoformat(),
                                 **MENTIONS)["invoice"]
    api.wait_state(invoice["id"], "sent")
    api.ok("POST", "/_sandbox/dgfip", {"refuse_reports": 1})
    api.ok("POST", "/_sandbox/advance")
    report = api.ok("GET", f"/tax_reports/{invoice['tax_report_ids'][0]}")["tax_report"]
    assert report["state"] == "refused" and report["errors"]
    after = api.invoice(invoice["id"])
    assert after["state"] == "error" and after["errors"]


def test_no_tax_report_for_a_buyer_outside_the_annuaire(api, activated):
    contact = company(api, activated, UNREGISTERED_SIRET, "CONSEIL LEROY SA")
    wait_for(lambda: api.ok("GET", f"/contacts/{contact['id']}")["contact"]
             ["in_dgfip_annuaire"] is False)
    invoice = api.create_invoice(activated["id"], contact["id"], send=True,
                                 date=TODAY.isoformat(), due_date=TODAY.isoformat(),
                                 **MENTIONS)["invoice"]
    assert invoice["tax_report_ids"] == []


def test_the_directory_answers_companies_by_siret_and_siren(api):
    entry = api.ok("GET", f"/directory/fr/0009/{COMPANY_SIRET}")
    assert entry["Invoice"]["transport_type_code"] == "peppol"
    assert api.ok("GET", f"/directory/fr/0002/{COMPANY_SIRET[:9]}")["cin_value"] == COMPANY_SIRET
    assert api.get("/directory/fr/0002/123456789").status_code == 422


def test_without_the_data_the_legal_xml_fails_br_fr(api, account):
    """The rules are really run: the same invoice from an account that is not activated (no
    billing frame, no electronic addresses, no mentions) breaks them."""
    contact = company(api, account)
    invoice = api.create_invoice(account["id"], contact["id"], send=True)["invoice"]
    sent = api.wait_state(invoice["id"], "sent")
    xml = requests.get(api.sandbox.url + sent["download_legal_url"], timeout=5,
                       headers=api.sandbox.headers()).content
    broken = {rule.split("_")[0] for rule, _text in br_fr_fatal(xml)}
    assert {"BR-FR-05", "BR-FR-08", "BR-FR-12", "BR-FR-13"} <= broken, broken

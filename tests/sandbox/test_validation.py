"""422s of invoices, contacts and the directory, and the Chorus Pro routing rules."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.sandbox.conftest import AMU_SERVICE, AMU_SIRET, Api, invoice_body, line

# Entities of the dataset chosen for their Chorus flags (see sandbox/directory_data.py).
VILLE_DE_PARIS = "21750001600019"  # service code mandatory only
INTERIEUR = "11002001300097"  # commitment mandatory only
MARSEILLE = "21130055300016"  # either one is enough; service MAR_ECOLES requires a commitment
LYON = "21690123100011"  # no flag


def errors_of(response):
    assert response.status_code == 422, response.text
    return response.json()["error"]


def test_blank_fields_are_all_reported(api, account, plain_contact):
    body = {"invoice": {"contact_id": plain_contact["id"]}}
    error = errors_of(api.post(f"/accounts/{account['id']}/invoices", body))
    assert error["code"] == "parameter_blank" and error["param"] == "number"
    assert error["message"] == "Number can't be blank"
    assert {d["param"] for d in error["details"]} == {
        "number", "date", "due_date", "invoice_lines_attributes"}


def test_lines_need_quantity_price_description_and_taxes(api, account, plain_contact):
    lines = [{"description": "No taxes", "quantity": 1, "price": 1},
             {"quantity": 1, "price": 1, "taxes_attributes": [{"name": "TVA"}]},
             {"description": "x", "taxes_attributes": [{"name": "TVA", "percent": 20}]}]
    body = {"invoice": invoice_body(plain_contact["id"], lines=lines)}
    error = errors_of(api.post(f"/accounts/{account['id']}/invoices", body))
    assert [(d["param"], d["code"]) for d in error["details"]] == [
        ("invoice_lines_attributes[0].taxes_attributes", "parameter_blank"),
        ("invoice_lines_attributes[1].description", "parameter_blank"),
        ("invoice_lines_attributes[1].taxes_attributes", "parameter_blank"),
        ("invoice_lines_attributes[2].quantity", "parameter_blank"),
        ("invoice_lines_attributes[2].price", "parameter_blank"),
    ]


@pytest.mark.parametrize(("fields", "param", "code"), [
    ({"number": " lead"}, "number", "parameter_invalid"),
    ({"number": "a  b"}, "number", "parameter_invalid"),
    ({"number": "X" * 21}, "number", "parameter_invalid"),
    ({"number": "F#1"}, "number", "parameter_invalid"),
    ({"date": "2025-02-30"}, "date", "parameter_invalid"),
    ({"due_date": "2025-06-01"}, "due_date", "parameter_invalid"),
    ({"contact_id": 42}, "contact_id", "parameter_inclusion"),
    ({"bank_account": {"type": "iban", "iban": "FR7630006000011234567890188"}},
     "bank_account.iban", "parameter_invalid"),
    ({"lines": [line("neg", -1, 10, 20)]}, "invoice_lines_attributes[0].quantity",
     "parameter_invalid"),
    ({"lines": [line("E at 20", 1, 10, 20, category="E")]},
     "invoice_lines_attributes[0].taxes_attributes", "parameter_invalid"),
    ({"billing_framework": "A9"}, "billing_framework", "parameter_inclusion"),
])
def test_malformed_fields(api, account, plain_contact, fields, param, code):
    body = {"invoice": {**invoice_body(plain_contact["id"]), **fields}}
    if "lines" in fields:
        body["invoice"]["invoice_lines_attributes"] = body["invoice"].pop("lines")
    error = errors_of(api.post(f"/accounts/{account['id']}/invoices", body))
    assert (error["param"], error["code"]) == (param, code)


def test_valid_number_forms_are_accepted(api, account, plain_contact):
    for number in ("F 2025/001", "A-1+2_3", "X" * 20):
        api.create_invoice(account["id"], plain_contact["id"], number=number)


def test_duplicate_number_is_taken_within_an_account_only(api, account, plain_contact):
    api.create_invoice(account["id"], plain_contact["id"], number="DUP-1")
    error = errors_of(api.post(f"/accounts/{account['id']}/invoices",
                               {"invoice": invoice_body(plain_contact["id"], number="DUP-1")}))
    assert error == {"code": "parameter_taken", "message": "Number has already been taken",
                     "type": "invalid_request_error", "param": "number",
                     "details": [{"param": "number", "code": "parameter_taken",
                                  "message": "Number has already been taken"}]}
    other = api.create_account(name="Other")
    other_contact = api.create_contact(other["id"])
    api.create_invoice(other["id"], other_contact["id"], number="DUP-1")


def test_another_accounts_contact_is_not_accepted(api, account):
    other = api.create_account(name="Other")
    foreign = api.create_contact(other["id"])
    error = errors_of(api.post(f"/accounts/{account['id']}/invoices",
                               {"invoice": invoice_body(foreign["id"])}))
    assert (error["param"], error["code"]) == ("contact_id", "parameter_inclusion")


def test_nothing_is_stored_on_422(api, account, plain_contact):
    api.post(f"/accounts/{account['id']}/invoices",
             {"invoice": invoice_body(plain_contact["id"], number="GONE-1", date="bad")})
    assert api.ok("GET", f"/accounts/{account['id']}/invoices?number=GONE-1")["invoices"] == []


# -- Chorus routing -------------------------------------------------------------------------
def chorus_error(api, account, siret, **fields):
    contact = api.create_chorus_contact(account["id"], siret)
    response = api.post(f"/accounts/{account['id']}/invoices",
                        {"invoice": invoice_body(contact["id"], **fields)})
    return errors_of(response)


def test_service_code_and_commitment_mandatory_for_amu(api, account, amu):
    error = errors_of(api.post(f"/accounts/{account['id']}/invoices",
                               {"invoice": invoice_body(amu["id"])}))
    assert error["code"] == "chorus_routing" and error["param"] == "buyer_reference"
    assert error["message"] == (
        "Le code service est obligatoire pour cette structure (cbc:BuyerReference)")
    assert [(d["param"], d["code"]) for d in error["details"]] == [
        ("buyer_reference", "chorus_routing"), ("ponumber", "chorus_routing")]
    assert error["details"][1]["message"] == (
        "Le numéro d'engagement est obligatoire pour cette structure (cac:OrderReference/cbc:ID)")
    api.create_invoice(account["id"], amu["id"], buyer_reference=AMU_SERVICE, ponumber="0123456")


def test_service_code_only(api, account):
    error = chorus_error(api, account, VILLE_DE_PARIS, ponumber="EJ1")
    assert (error["param"], error["code"]) == ("buyer_reference", "chorus_routing")
    contact = api.create_chorus_contact(account["id"], VILLE_DE_PARIS)
    api.create_invoice(account["id"], contact["id"], buyer_reference="DFA_FACTURES")


def test_commitment_only(api, account):
    error = chorus_error(api, account, INTERIEUR, buyer_reference="MI_SG_FIN")
    assert (error["param"], error["code"]) == ("ponumber", "chorus_routing")
    contact = api.create_chorus_contact(account["id"], INTERIEUR)
    api.create_invoice(account["id"], contact["id"], ponumber="EJ-42")


def test_either_one_is_enough(api, account):
    error = chorus_error(api, account, MARSEILLE)
    assert (error["param"], error["code"]) == ("buyer_reference", "chorus_routing")
    contact = api.create_chorus_contact(account["id"], MARSEILLE)
    api.create_invoice(account["id"], contact["id"], ponumber="EJ-1")
    api.create_invoice(account["id"], contact["id"], buyer_reference="MAR_DGAFP_FIN")


def test_a_service_can_require_the_commitment(api, account):
    error = chorus_error(api, account, MARSEILLE, buyer_reference="MAR_ECOLES")
    assert (error["param"], error["code"]) == ("ponumber", "chorus_routing")


def test_no_flag_entity_needs_nothing(api, account):
    contact = api.create_chorus_contact(account["id"], LYON)
    api.create_invoice(account["id"], contact["id"])


@pytest.mark.parametrize(("code", "message"), [
    ("FACTURES_PUBLIQUES", "FACTURES_PUBLIQUES is reserved for invoices between public entities"),
    ("ESR_ANCIEN_SERVICE", "Le code service ESR_ANCIEN_SERVICE est inconnu ou inactif pour cette structure"),
    ("NO_SUCH_SERVICE", "Le code service NO_SUCH_SERVICE est inconnu ou inactif pour cette structure"),
])
def test_reserved_inactive_or_unknown_services(api, account, code, message):
    error = chorus_error(api, account, AMU_SIRET, buyer_reference=code, ponumber="1")
    assert (error["param"], error["code"], error["message"]) == (
        "buyer_reference", "parameter_inclusion", message)


def test_an_organisational_unit_routes_through_its_parent(api, account, amu):
    unit = api.create_contact(account["id"], tin_value=None, parent_id=amu["id"],
                              name="Factures marché FCM ROP cadre A2", cin1_scheme="8017",
                              cin1_value=AMU_SERVICE)
    assert unit["public_sector"] is True and unit["transport_type_code"] == "fr.chorus"
    error = errors_of(api.post(f"/accounts/{account['id']}/invoices",
                               {"invoice": invoice_body(unit["id"], ponumber="1")}))
    assert error["code"] == "chorus_routing"
    invoice = api.create_invoice(account["id"], unit["id"], ponumber="1",
                                 buyer_reference=AMU_SERVICE)["invoice"]
    assert invoice["contact"]["cin_value"] == AMU_SIRET


def test_exempt_line_without_reason_is_created_with_errors_and_never_sent(
        api, account, plain_contact):
    created = api.create_invoice(account["id"], plain_contact["id"], send=True,
                                 lines=[line("Formation", 1, 100, 0, category="E")])["invoice"]
    assert created["errors"][0]["error_code"] == "tax_exemption_reason_missing"
    failed = api.wait_state(created["id"], "error")
    assert failed["download_legal_url"] is None


# -- contacts and directory ---------------------------------------------------------------
@pytest.mark.parametrize(("fields", "param", "code", "message"), [
    ({"name": ""}, "name", "parameter_blank", "Name can't be blank"),
    ({"tin_value": None}, "tin_value", "parameter_blank",
     "Contact tin_value or cin_value can't be blank"),
    ({"cin_scheme": "0009", "cin_value": "13001533200012"}, "cin_value", "parameter_invalid",
     "cin_value 13001533200012 is not a valid SIRET"),
    ({"parent_id": 1}, "parent_id", "parameter_inclusion",
     "Parent contact is not a contact of this account"),
    ({"cin_scheme": "ABC"}, "cin_scheme", "parameter_inclusion", "cin_scheme is not a known scheme"),
])
def test_contact_validation(api, account, fields, param, code, message):
    body = {"contact": {"name": "C", "tin_value": "FR40303265045", **fields}}
    error = errors_of(api.post(f"/accounts/{account['id']}/contacts", body))
    assert (error["param"], error["code"], error["message"]) == (param, code, message)


def test_a_unit_cannot_use_the_reserved_service(api, account, amu):
    body = {"contact": {"name": "U", "parent_id": amu["id"], "cin1_scheme": "8017",
                        "cin1_value": "FACTURES_PUBLIQUES"}}
    error = errors_of(api.post(f"/accounts/{account['id']}/contacts", body))
    assert error["message"] == "FACTURES_PUBLIQUES is reserved for invoices between public entities"


def test_contact_crud_and_filters(api, account, amu):
    base = f"/accounts/{account['id']}/contacts"
    unit = api.create_contact(account["id"], tin_value=None, parent_id=amu["id"], name="Unit",
                              cin1_value=AMU_SERVICE, cin1_scheme=8017, integration_code="U1")
    assert unit["cin1_scheme"] == "8017"
    assert [c["id"] for c in api.ok("GET", f"{base}?name=aix")["contacts"]] == [amu["id"]]
    for query in (f"cin1_value={AMU_SERVICE}", f"parent_id={amu['id']}", "integration_code=U1"):
        assert [c["id"] for c in api.ok("GET", f"{base}?{query}")["contacts"]] == [unit["id"]]
    assert api.ok("GET", f"{base}?cin_value={AMU_SIRET}")["meta"]["total_count"] == 1
    updated = api.ok("PUT", f"/contacts/{unit['id']}", {"contact": {"email": "u@example.fr"}})
    assert updated["contact"]["email"] == "u@example.fr"
    assert updated["contact"]["name"] == "Unit"
    api.ok("DELETE", f"/contacts/{unit['id']}")
    assert api.get(f"/contacts/{unit['id']}").status_code == 404


def test_directory_lookup(api):
    entry = api.ok("GET", f"/directory/fr/0009/{AMU_SIRET}")
    assert entry["chorus"]["service_code_required"] and entry["chorus"]["engagement_required"]
    assert api.ok("GET", "/directory/fr/0009/35600000000048")["name"] == "LA POSTE"
    bad = api.get("/directory/fr/0009/13001533200012")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "parameter_invalid"
    unknown = api.get("/directory/fr/0009/54210765100011")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == (
        "No entry found in the directory for fr/0009/54210765100011")


def test_concurrent_creates_of_one_number_store_exactly_one(api, account, plain_contact):
    def create(_):
        return Api(api.sandbox).post(f"/accounts/{account['id']}/invoices", {
            "invoice": invoice_body(plain_contact["id"], number="RACE-1")}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(create, range(16)))
    assert statuses == [201] + [422] * 15

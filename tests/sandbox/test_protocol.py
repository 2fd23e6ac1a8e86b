"""Authentication, API versions, errors' shape, envelopes and headers."""

import uuid

import pytest
import requests

from tests.sandbox.conftest import Api


def test_missing_key_is_401_in_the_api_error_shape(sandbox):
    response = requests.get(sandbox.url + "/accounts", timeout=5)
    assert response.status_code == 401
    assert response.json() == {"error": {
        "code": "missing_api_key", "type": "invalid_request_error",
        "message": "No API key provided. Set the X-B2B-API-Key header."}}


def test_invalid_key_is_401_invalid_api_key(sandbox):
    response = requests.get(sandbox.url + "/accounts", headers={"X-B2B-API-Key": "nope"}, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_api_key", "type": "invalid_request_error",
        "message": "Invalid API Key provided, or it is not valid for this environment."}


def test_control_endpoints_need_the_key_but_health_does_not(sandbox):
    assert requests.get(sandbox.url + "/_sandbox/health", timeout=5).json() == {"status": "ok"}
    assert requests.get(sandbox.url + "/_sandbox/stats", timeout=5).status_code == 401


def test_missing_version_falls_back_to_the_default(sandbox):
    response = requests.post(sandbox.url + "/accounts", headers={"X-B2B-API-Key": sandbox.api_key},
                             json={"account": {"name": "A", "country": "fr", "tin_value": "FR1"}},
                             timeout=5)
    assert response.status_code == 201  # 2026-03-02 semantics
    assert response.json()["account"]["tin_scheme"] is None


@pytest.mark.parametrize(("version", "code"), [
    ("2024-01-01", "invalid_api_version"),
    ("yesterday", "invalid_api_version"),
    ("2025-01-01", "api_version_subdomain_mismatch"),
])
def test_bad_versions_are_400(sandbox, version, code):
    response = Api(sandbox, version).get("/accounts")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_missing_version_without_a_default_is_400(tmp_path):
    from tests.support.sandbox import SandboxProcess

    with SandboxProcess(data_dir=tmp_path, default_version="") as sandbox:
        response = requests.get(sandbox.url + "/accounts",
                                headers={"X-B2B-API-Key": sandbox.api_key}, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_api_version"


@pytest.mark.parametrize(("version", "status", "scheme"), [
    ("2025-10-13", 200, 9957), ("2026-03-02", 201, "9957"), ("2026-04-20", 201, "9957")])
def test_creates_answer_200_or_201_and_schemes_by_version(sandbox, version, status, scheme):
    api = Api(sandbox, version)
    response = api.post("/accounts", {"account": {"name": "V", "country": "FR",
                                                  "tin_value": "FR13542107651", "tin_scheme": 9957}})
    assert response.status_code == status
    account = response.json()["account"]
    assert account["tin_scheme"] == scheme and account["country"] == "fr"
    assert api.get(f"/accounts/{account['id']}").json()["account"]["tin_scheme"] == scheme


def test_every_answer_has_a_fresh_request_id(api):
    first, second = api.get("/accounts"), api.get("/nowhere")
    ids = {first.headers["X-B2B-API-Request-Id"], second.headers["X-B2B-API-Request-Id"]}
    assert len(ids) == 2 and all(uuid.UUID(i) for i in ids)


def test_unknown_route_and_unknown_ids_are_404(api, account):
    assert api.get("/nowhere").json()["error"]["code"] == "resource_missing"
    for path in ("/accounts/1", "/invoices/1", "/contacts/1", "/invoices/abc"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "resource_missing"


def test_malformed_json_and_missing_root_key_are_400(api, account):
    response = api.session.post(api.sandbox.url + "/accounts", data="{not json", timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request_params"
    response = api.post(f"/accounts/{account['id']}/invoices", {"number": "1"})
    assert response.status_code == 400


def test_accounts_list_pages(api):
    for i in range(3):
        api.create_account(name=f"Paged {i}")
    everything = api.ok("GET", "/accounts?limit=500")
    total = everything["meta"]["total_count"]
    assert total >= 3 and len(everything["accounts"]) == min(total, 500)
    page = api.ok("GET", f"/accounts?offset={total - 2}&limit=1")
    assert page["meta"] == {"total_count": total, "offset": total - 2, "limit": 1}
    assert page["accounts"][0]["id"] == everything["accounts"][-2]["id"]
    assert api.ok("GET", "/accounts?limit=9999")["meta"]["limit"] == 500


def test_account_create_requires_name_country_tin(api):
    response = api.post("/accounts", {"account": {"email": "x@example.com"}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "parameter_blank" and error["param"] == "name"
    assert [d["param"] for d in error["details"]] == ["name", "country", "tin_value"]


def test_json_suffix_is_tolerated(api, account, plain_contact):
    invoice = api.create_invoice(account["id"], plain_contact["id"])["invoice"]
    assert api.ok("GET", f"/invoices/{invoice['id']}.json")["invoice"]["id"] == invoice["id"]

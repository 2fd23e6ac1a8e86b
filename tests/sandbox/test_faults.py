"""Injected faults (5xx, 429, slow, lost response), latency, and request statistics."""

import time

import pytest
import requests

from tests.sandbox.conftest import Api, invoice_body
from tests.support.sandbox import SandboxProcess


@pytest.fixture
def faults(api):
    """Faults set through the control endpoint, cleared afterwards."""
    yield lambda body: api.ok("POST", "/_sandbox/faults", body)
    api.ok("DELETE", "/_sandbox/faults")


def _create(api, account, contact, number):
    return api.post(f"/accounts/{account['id']}/invoices",
                    {"invoice": invoice_body(contact["id"], number=number)})


def _numbers(api, account, number):
    return api.ok("GET", f"/accounts/{account['id']}/invoices?number={number}")["invoices"]


def test_queued_5xx_answers_before_storing(api, account, plain_contact, faults):
    faults({"queue": [{"kind": "error_5xx", "method": "POST", "path": "/accounts/*/invoices"}]})
    response = _create(api, account, plain_contact, "F5-1")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert response.json()["error"]["type"] == "api_error"
    assert _numbers(api, account, "F5-1") == []
    assert _create(api, account, plain_contact, "F5-1").status_code == 201  # fired once only


def test_queued_rate_limit_has_retry_after(api, account, plain_contact, faults):
    faults({"queue": [{"kind": "rate_limit"}], "retry_after": 3})
    response = _create(api, account, plain_contact, "RL-1")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json()["error"]["code"] == "rate_limited"
    assert _numbers(api, account, "RL-1") == []


def test_slow_answers_late_but_normally(api, account, faults):
    faults({"queue": [{"kind": "slow", "path": "/accounts/*"}], "slow_ms": 300})
    started = time.monotonic()
    response = api.get(f"/accounts/{account['id']}")
    assert response.status_code == 200 and time.monotonic() - started >= 0.3


def test_lost_response_stores_then_closes(api, account, plain_contact, faults):
    faults({"queue": [{"kind": "lost_response", "method": "POST", "path": "/accounts/*/invoices"}]})
    with pytest.raises(requests.ConnectionError):
        _create(api, account, plain_contact, "LOST-1")
    (stored,) = _numbers(api, account, "LOST-1")
    assert stored["state"] == "new"


def test_rates_apply_to_the_api_but_never_to_control_endpoints(api, faults):
    state = faults({"rates": {"error_5xx": 1.0}})
    assert state["rates"] == {"error_5xx": 1.0}
    assert api.get("/accounts").status_code == 500
    assert api.get("/_sandbox/faults").status_code == 200
    assert api.post("/_sandbox/faults", {"rates": {"bogus": 1}}).status_code == 400


def test_faults_from_the_command_line_and_latency(tmp_path):
    with SandboxProcess(data_dir=tmp_path, faults="rate_limit=1", latency_ms=200) as sandbox:
        api = Api(sandbox)
        started = time.monotonic()
        assert api.get("/accounts").status_code == 429
        assert time.monotonic() - started >= 0.2
        assert api.ok("GET", "/_sandbox/faults")["rates"] == {"rate_limit": 1.0}
        started = time.monotonic()
        sandbox.control("GET", "/_sandbox/stats")
        assert time.monotonic() - started < 0.2  # no latency on control endpoints


def test_stats_count_requests_per_route_template(api, account):
    api.ok("DELETE", "/_sandbox/stats")
    api.get(f"/accounts/{account['id']}")
    api.get(f"/accounts/{account['id']}")
    api.get(f"/accounts/{account['id']}/invoices")
    stats = api.ok("GET", "/_sandbox/stats")
    assert stats["requests"] == {"GET /accounts/{id}": 2, "GET /accounts/{id}/invoices": 1}
    assert stats["total"] == 3

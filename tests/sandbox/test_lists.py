"""The invoice list: filters, paging, order, and ack semantics."""

import time

import pytest

from tests.sandbox.conftest import invoice_body


@pytest.fixture
def three(api, account, plain_contact):
    """Three `new` invoices of a fresh account, created in order."""
    return [api.create_invoice(account["id"], plain_contact["id"], number=f"L-{i}",
                               date=f"2025-06-1{i}")["invoice"] for i in range(3)]


def ids(api, account, query=""):
    answer = api.ok("GET", f"/accounts/{account['id']}/invoices?{query}")
    return [i["id"] for i in answer["invoices"]]


def test_number_filter_is_exact(api, account, three):
    assert ids(api, account, "number=L-1") == [three[1]["id"]]
    assert ids(api, account, "number=L-") == []


def test_offset_limit_and_meta(api, account, three):
    answer = api.ok("GET", f"/accounts/{account['id']}/invoices?offset=1&limit=1")
    assert answer["meta"] == {"total_count": 3, "offset": 1, "limit": 1}
    assert [i["id"] for i in answer["invoices"]] == [three[1]["id"]]
    assert "lines" not in answer["invoices"][0]
    assert api.get(f"/accounts/{account['id']}/invoices?limit=x").status_code == 400


def test_ordered_by_state_change_and_filtered_from_a_timestamp(api, account, three):
    time.sleep(0.01)
    api.set_state(three[0]["id"], "error", reason="x")
    changed = api.invoice(three[0]["id"])["state_updated_at"]
    assert ids(api, account) == [three[1]["id"], three[2]["id"], three[0]["id"]]
    assert ids(api, account, f"state_updated_at_from={changed}") == [three[0]["id"]]
    assert ids(api, account, "state_updated_at_from=2025-06-12") == ids(api, account)
    assert ids(api, account, "state_updated_at_from=2999-01-01") == []
    bad = api.get(f"/accounts/{account['id']}/invoices?state_updated_at_from=soon")
    assert bad.status_code == 400


def test_state_flags_are_ored(api, account, three):
    api.set_state(three[0]["id"], "error", reason="x")
    api.set_state(three[1]["id"], "sent")
    assert ids(api, account, "error=1") == [three[0]["id"]]
    assert set(ids(api, account, "error=1&sent=1")) == {three[0]["id"], three[1]["id"]}
    assert ids(api, account, "new=1") == [three[2]["id"]]


def test_date_filters(api, account, three):
    assert ids(api, account, "date_from=2025-06-11&date_to=2025-06-11") == [three[1]["id"]]


def test_ack_is_idempotent_kept_by_state_changes_and_cleared_by_a_new_deposit(api, account, three):
    first = api.ok("POST", f"/invoices/{three[0]['id']}/ack")["invoice"]
    assert first["ack_at"] and first["state"] == "new"
    again = api.ok("POST", f"/invoices/{three[0]['id']}/ack")["invoice"]
    assert again["ack_at"] == first["ack_at"]
    assert ids(api, account, "ack=true") == [three[0]["id"]]
    assert ids(api, account, "ack=false") == [three[1]["id"], three[2]["id"]]
    api.set_state(three[0]["id"], "error", reason="x")
    assert api.invoice(three[0]["id"])["ack_at"] == first["ack_at"]
    api.ok("POST", f"/invoices/send_invoice/{three[0]['id']}")
    assert api.invoice(three[0]["id"])["ack_at"] is None
    assert three[0]["id"] in ids(api, account, "ack=false")


def test_ack_on_create_and_on_get(api, account, plain_contact):
    body = {"ack": True, "invoice": invoice_body(plain_contact["id"])}
    created = api.ok("POST", f"/accounts/{account['id']}/invoices", body)["invoice"]
    assert created["ack_at"]
    other = api.create_invoice(account["id"], plain_contact["id"])["invoice"]
    assert api.ok("GET", f"/invoices/{other['id']}?ack=true")["invoice"]["ack_at"]

"""The HTTP client against `responses` (headers, bodies, error mapping, retry rules, logs)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from b2brouter import (
    AuthError,
    B2BrouterClient,
    B2BrouterError,
    CallRecord,
    ConflictError,
    ConnectionFailed,
    NotFound,
    RateLimited,
    RejectedError,
    ResponseLost,
    ServerError,
    Timeout,
    TransientError,
    ValidationError,
)

BASE = "https://api-staging.b2brouter.net"
KEY = "sk_test_THE-SECRET-KEY-0123456789"
API_HEADERS = {
    "X-B2B-API-Key": KEY,
    "X-B2B-API-Version": "2026-03-02",
    "Accept": "application/json",
}
JSON_HEADERS = {**API_HEADERS, "Content-Type": "application/json"}
RID = {"X-B2B-API-Request-Id": "3f0c6a4e-0000-4000-8000-000000000001"}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def records() -> list[CallRecord]:
    return []


@pytest.fixture
def client(sleeps: Sleeps, records: list[CallRecord]) -> B2BrouterClient:
    return B2BrouterClient(
        BASE, KEY, backoff_factor=0, sleep=sleeps, on_response=records.append, max_retries=3
    )


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens: ConnectionError <- MaxRetryError <- NewConnectionError."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def dropped() -> requests.ConnectionError:
    """The server accepted the request then closed without answering (the sandbox's lost_response)."""
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    kind = "api_error" if status >= 500 else "invalid_request_error"
    return {"error": {"code": code, "message": message, "type": kind, **extra}}


# ---- headers and bodies ------------------------------------------------------------------


def test_guide_bodies_are_sent_with_the_api_headers(
    client: B2BrouterClient, mocked: responses.RequestsMock, guide_bodies: dict[str, Any]
) -> None:
    for name, path, key in [
        ("contact", "/accounts/42/contacts", "contact"),
        ("org_unit", "/accounts/42/contacts", "contact"),
        ("invoice", "/accounts/42/invoices", "invoice"),
    ]:
        mocked.post(
            BASE + path,
            json={key: {"id": 1}},
            status=201,
            match=[
                matchers.header_matcher(JSON_HEADERS),
                matchers.json_params_matcher(guide_bodies[name]),
            ],
        )
    assert client.create_contact(42, guide_bodies["contact"]) == {"id": 1}
    assert client.create_contact(42, guide_bodies["org_unit"]) == {"id": 1}
    assert client.create_invoice(42, guide_bodies["invoice"]) == {"id": 1}


def test_decimal_bodies_go_out_as_json_numbers(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.put(BASE + "/invoices/5", json={"invoice": {"id": 5}})
    client.update_invoice(
        5, {"invoice": {"invoice_lines_attributes": [{"price": Decimal("12.345")}]}}
    )
    assert b'"price": 12.345' in mocked.calls[0].request.body


def test_amounts_are_read_as_decimal(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        BASE + "/invoices/9",
        body='{"invoice": {"id": 9, "total": 148.50, "taxes": [{"percent": 10.0, "amount": 13.5}]}}',
        content_type="application/json",
        match=[matchers.header_matcher(API_HEADERS), matchers.query_param_matcher({})],
    )
    invoice = client.get_invoice(9)
    assert invoice["total"] == Decimal("148.50") and isinstance(invoice["total"], Decimal)
    assert str(invoice["taxes"][0]["percent"]) == "10.0"


def test_get_invoice_with_lines(client: B2BrouterClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        BASE + "/invoices/9",
        json={"invoice": {"id": 9, "lines": []}},
        match=[matchers.query_param_matcher({"include": "lines"})],
    )
    assert client.get_invoice(9, include_lines=True)["lines"] == []


def test_accounts(
    client: B2BrouterClient, mocked: responses.RequestsMock, guide_bodies: dict[str, Any]
) -> None:
    mocked.get(
        BASE + "/accounts",
        json={
            "accounts": [{"id": 1}, {"id": 2}],
            "meta": {"total_count": 3, "offset": 0, "limit": 2},
        },
        match=[matchers.query_param_matcher({"offset": "0", "limit": "2"})],
    )
    mocked.get(
        BASE + "/accounts",
        json={"accounts": [{"id": 3}], "meta": {"total_count": 3, "offset": 2, "limit": 2}},
        match=[matchers.query_param_matcher({"offset": "2", "limit": "2"})],
    )
    mocked.post(
        BASE + "/accounts",
        json={"account": {"id": 4}},
        status=201,
        match=[matchers.json_params_matcher(guide_bodies["account"])],
    )
    mocked.get(BASE + "/accounts/4", json={"account": {"id": 4, "name": "Exemplar SAS"}})
    assert [a["id"] for a in client.iter_accounts(page_size=2)] == [1, 2, 3]
    page = client.list_accounts(offset=0, limit=2)
    assert (page.total_count, page.offset, page.limit) == (3, 0, 2)
    assert client.create_account(guide_bodies["account"]) == {"id": 4}
    assert client.get_account(4)["name"] == "Exemplar SAS"


def test_directory_lookup(client: B2BrouterClient, mocked: responses.RequestsMock) -> None:
    entry = {"name": "UNIVERSITE D AIX MARSEILLE", "chorus": {"service_code_required": True}}
    mocked.get(BASE + "/directory/fr/0009/13001533200013", json=entry)
    assert client.directory_lookup("13001533200013") == entry
    with pytest.raises(ValueError):
        client.directory_lookup("../accounts")


def test_contacts(client: B2BrouterClient, mocked: responses.RequestsMock) -> None:
    meta = {"total_count": 1, "offset": 0, "limit": 100}
    mocked.get(
        BASE + "/accounts/42/contacts",
        json={"contacts": [{"id": 7}], "meta": meta},
        match=[
            matchers.query_param_matcher(
                {"offset": "0", "limit": "100", "cin_value": "13001533200013", "parent_id": "3"}
            )
        ],
    )
    mocked.get(BASE + "/contacts/7", json={"contact": {"id": 7}})
    mocked.put(
        BASE + "/contacts/7",
        json={"contact": {"id": 7, "email": "a@b.fr"}},
        match=[matchers.json_params_matcher({"contact": {"email": "a@b.fr"}})],
    )
    mocked.delete(BASE + "/contacts/7", status=204)
    items, got_meta = client.list_contacts(42, cin_value="13001533200013", parent_id=3, name=None)
    assert items == [{"id": 7}] and got_meta == meta
    assert client.get_contact(7) == {"id": 7}
    assert client.update_contact(7, {"contact": {"email": "a@b.fr"}})["email"] == "a@b.fr"
    assert client.delete_contact(7) is None


def test_list_invoices_filters(client: B2BrouterClient, mocked: responses.RequestsMock) -> None:
    """`state_updated_at_from` goes out in its documented form, a date (a datetime: its UTC
    date, so the answer starts no later than asked)."""
    mocked.get(
        BASE + "/accounts/42/invoices",
        json={"invoices": [{"id": 1}], "meta": {"total_count": 1, "offset": 0, "limit": 100}},
        match=[
            matchers.query_param_matcher(
                {
                    "offset": "0",
                    "limit": "100",
                    "state_updated_at_from": "2026-11-24",
                    "ack": "false",
                    "sent": "1",
                }
            )
        ],
    )
    mocked.get(
        BASE + "/accounts/42/invoices",
        json={"invoices": [], "meta": {"total_count": 0, "offset": 0, "limit": 25}},
        match=[
            matchers.query_param_matcher(
                {"offset": "0", "limit": "25", "state_updated_at_from": "2025-06-12"}
            )
        ],
    )
    paris = timezone(timedelta(hours=1))
    page = client.list_invoices(
        42,
        state_updated_at_from=datetime(2026, 11, 25, 0, 30, 0, 123456, tzinfo=paris),
        ack=False,
        sent=True,
    )
    assert page.items == [{"id": 1}] and page.total_count == 1
    assert client.list_invoices(42, limit=25, state_updated_at_from=date(2025, 6, 12)).items == []


def test_find_invoice_by_number_is_exact(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    meta = {"total_count": 1, "offset": 0, "limit": 25}
    mocked.get(
        BASE + "/accounts/42/invoices",
        json={"invoices": [{"id": 1, "number": "F-10"}, {"id": 2, "number": "F-1"}], "meta": meta},
        match=[matchers.query_param_matcher({"offset": "0", "limit": "25", "number": "F-1"})],
    )
    mocked.get(
        BASE + "/accounts/42/invoices",
        json={"invoices": [], "meta": {**meta, "total_count": 0}},
        match=[matchers.query_param_matcher({"offset": "0", "limit": "25", "number": "F-2"})],
    )
    assert client.find_invoice_by_number(42, "F-1") == {"id": 2, "number": "F-1"}
    assert client.find_invoice_by_number(42, "F-2") is None


def test_send_ack_delete(client: B2BrouterClient, mocked: responses.RequestsMock) -> None:
    mocked.post(BASE + "/invoices/send_invoice/5", json={"invoice": {"id": 5, "state": "sending"}})
    mocked.post(
        BASE + "/invoices/5/ack", json={"invoice": {"id": 5, "ack_at": "2026-01-01T00:00:00.000Z"}}
    )
    mocked.delete(BASE + "/invoices/5", json={"invoice": {"id": 5}})
    assert client.send_invoice(5)["state"] == "sending"
    assert client.ack_invoice(5)["ack_at"]
    client.delete_invoice(5)
    assert [c.request.method for c in mocked.calls] == ["POST", "POST", "DELETE"]
    assert "Content-Type" not in mocked.calls[0].request.headers


@pytest.mark.parametrize("answer", [
    {"json": {"tax_report_ids": [42]}},  # the PHP SDK's documented send answer
    {"json": {}},
    {"status": 204},  # the legacy answer
    {"status": 200, "body": b""},
])
def test_send_and_ack_accept_every_documented_answer(
    client: B2BrouterClient, mocked: responses.RequestsMock, answer: dict
) -> None:
    """Neither answer's shape is settled by the documentation: an envelope gives the invoice,
    anything else (another body, 204, nothing) gives None, never an error."""
    mocked.post(BASE + "/invoices/send_invoice/5", **answer)
    mocked.post(BASE + "/invoices/5/ack", **answer)
    assert client.send_invoice(5) is None
    assert client.ack_invoice(5) is None


def test_download_legal_returns_exact_bytes(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice>\xc3\xa9</Invoice>\n'
    mocked.get(
        BASE + "/attachments/download/77/F-1.xml",
        body=xml,
        content_type="application/xml",
        match=[matchers.header_matcher({**API_HEADERS, "Accept": "application/xml"})],
    )
    content, content_type = client.download_legal("/attachments/download/77/F-1.xml")
    assert content == xml and content_type == "application/xml"
    assert client.download_legal(BASE + "/attachments/download/77/F-1.xml").content == xml


def test_download_legal_refuses_another_host(client: B2BrouterClient) -> None:
    with pytest.raises(ValueError):
        client.download_legal("https://evil.example/attachments/download/77/F-1.xml")


# ---- error mapping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (400, "invalid_request_params", RejectedError),
        (400, "invalid_api_version", RejectedError),
        (401, "invalid_api_key", AuthError),
        (403, "no_account_group", AuthError),
        (404, "resource_missing", NotFound),
        (409, "conflict", ConflictError),
        (422, "parameter_taken", ValidationError),
        (429, "rate_limited", RateLimited),
        (500, "server_error", ServerError),
        (502, "server_error", ServerError),
    ],
)
def test_error_mapping(
    client: B2BrouterClient,
    mocked: responses.RequestsMock,
    status: int,
    code: str,
    error_class: type,
) -> None:
    mocked.get(
        BASE + "/invoices/1",
        json=error_body(status, code, "Something precise"),
        status=status,
        headers={**RID, "Retry-After": "0"} if status == 429 else RID,
    )
    client.max_retries = 0
    client.session.get_adapter(BASE).max_retries.total = 0  # one answer, no urllib3 retry
    with pytest.raises(error_class) as caught:
        client.get_invoice(1)
    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code, error.message) == (status, code, "Something precise")
    assert error.request_id == RID["X-B2B-API-Request-Id"]
    assert error.body["error"]["code"] == code
    text = str(error)
    assert str(status) in text and code in text and "Something precise" in text
    assert "GET /invoices/1" in text and RID["X-B2B-API-Request-Id"] in text
    assert KEY not in text and KEY not in repr(error)
    assert isinstance(error, TransientError) == (status == 429 or status >= 500)


def test_validation_error_carries_field_messages(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    details = [
        {"param": "number", "code": "parameter_blank", "message": "Number can't be blank"},
        {
            "param": "invoice_lines_attributes[0].taxes_attributes",
            "code": "parameter_blank",
            "message": "Taxes can't be blank",
        },
        {"param": "number", "code": "parameter_invalid", "message": "Number is invalid"},
    ]
    mocked.post(
        BASE + "/accounts/42/invoices",
        status=422,
        json=error_body(
            422, "parameter_blank", "Number can't be blank", param="number", details=details
        ),
    )
    with pytest.raises(ValidationError) as caught:
        client.create_invoice(42, {"invoice": {}})
    assert caught.value.param == "number"
    assert caught.value.field_errors == {
        "number": ["Number can't be blank", "Number is invalid"],
        "invoice_lines_attributes[0].taxes_attributes": ["Taxes can't be blank"],
    }
    assert "param=number" in str(caught.value)


def test_chorus_routing_error_without_details(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    message = "Le code service est obligatoire pour cette structure (cbc:BuyerReference)"
    mocked.post(
        BASE + "/accounts/42/invoices",
        status=422,
        json=error_body(422, "chorus_routing", message, param="buyer_reference"),
    )
    with pytest.raises(ValidationError) as caught:
        client.create_invoice(42, {"invoice": {}})
    assert caught.value.code == "chorus_routing"
    assert caught.value.field_errors == {"buyer_reference": [message]}


def test_error_body_echoing_the_key_is_scrubbed(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        BASE + "/accounts/1",
        status=401,
        json=error_body(401, "invalid_api_key", f"Key {KEY} is unknown"),
    )
    with pytest.raises(AuthError) as caught:
        client.get_account(1)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.body)
    assert "[redacted]" in caught.value.message


def test_non_json_error_body(client: B2BrouterClient, mocked: responses.RequestsMock) -> None:
    mocked.post(BASE + "/invoices/5/ack", status=500, body="<html>Bad gateway</html>")
    with pytest.raises(ServerError) as caught:
        client.ack_invoice(5)
    assert caught.value.body == "<html>Bad gateway</html>"


def test_unreadable_success_is_an_ambiguous_loss(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(BASE + "/accounts/42/invoices", status=201, body="<html>ok?</html>")
    with pytest.raises(ResponseLost):
        client.create_invoice(42, {"invoice": {}})


# ---- retry rules -------------------------------------------------------------------------


def test_post_retried_when_the_connection_is_refused(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(BASE + "/accounts/42/invoices", body=refused())
    mocked.post(BASE + "/accounts/42/invoices", json={"invoice": {"id": 1}}, status=201)
    assert client.create_invoice(42, {"invoice": {}}) == {"id": 1}
    assert len(mocked.calls) == 2


def test_post_gives_up_after_max_retries_refusals(
    client: B2BrouterClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.post(BASE + "/accounts/42/invoices", body=refused())
    with pytest.raises(ConnectionFailed) as caught:
        client.create_invoice(42, {"invoice": {}})
    assert len(mocked.calls) == 4 and len(sleeps) == 3
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


def test_post_429_retried_honouring_retry_after(
    client: B2BrouterClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.post(
        BASE + "/accounts/42/invoices",
        status=429,
        json=error_body(429, "rate_limited", "Slow down"),
        headers={"Retry-After": "2"},
    )
    mocked.post(BASE + "/accounts/42/invoices", status=201, json={"invoice": {"id": 1}})
    assert client.create_invoice(42, {"invoice": {}}) == {"id": 1}
    assert sleeps == [2.0]


def test_post_429_beyond_the_cap_is_raised_at_once(
    client: B2BrouterClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.post(
        BASE + "/invoices/send_invoice/5",
        status=429,
        json=error_body(429, "rate_limited", "Slow down"),
        headers={"Retry-After": "120"},
    )
    with pytest.raises(RateLimited) as caught:
        client.send_invoice(5)
    assert caught.value.retry_after == 120 and sleeps == [] and len(mocked.calls) == 1
    assert "retry_after=120" in str(caught.value)


def test_post_429_until_max_retries(
    client: B2BrouterClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.post(
        BASE + "/invoices/5/ack",
        status=429,
        json=error_body(429, "rate_limited", "Slow down"),
        headers={"Retry-After": "1"},
    )
    with pytest.raises(RateLimited):
        client.ack_invoice(5)
    assert len(mocked.calls) == 4 and sleeps == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        ({"status": 500, "json": error_body(500, "server_error", "boom")}, ServerError),
        ({"status": 503, "json": error_body(503, "server_error", "busy")}, ServerError),
        ({"status": 502, "body": "bad gateway"}, ServerError),
        ({"body": requests.ReadTimeout("read timed out")}, Timeout),
        ({"body": dropped()}, ResponseLost),
    ],
)
def test_ambiguous_post_failures_are_not_retried(
    client: B2BrouterClient,
    mocked: responses.RequestsMock,
    failure: dict[str, Any],
    error_class: type,
) -> None:
    mocked.post(BASE + "/accounts/42/invoices", **failure)
    mocked.post(BASE + "/accounts/42/invoices", status=201, json={"invoice": {"id": 1}})
    with pytest.raises(error_class):
        client.create_invoice(42, {"invoice": {}})
    assert len(mocked.calls) == 1  # the service settles by number before any second POST


def test_timeout_is_an_ambiguous_loss() -> None:
    assert issubclass(Timeout, ResponseLost) and issubclass(ResponseLost, TransientError)
    assert not issubclass(ConnectionFailed, ResponseLost)


def test_get_retried_on_503(client: B2BrouterClient, mocked: responses.RequestsMock) -> None:
    mocked.get(BASE + "/invoices/1", status=503, json=error_body(503, "server_error", "busy"))
    mocked.get(BASE + "/invoices/1", status=503, json=error_body(503, "server_error", "busy"))
    mocked.get(BASE + "/invoices/1", json={"invoice": {"id": 1}})
    assert client.get_invoice(1) == {"id": 1}
    assert len(mocked.calls) == 3


def test_get_503_until_exhausted_raises_server_error(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(BASE + "/invoices/1", status=503, json=error_body(503, "server_error", "busy"))
    with pytest.raises(ServerError):
        client.get_invoice(1)
    assert len(mocked.calls) == 4


def test_get_500_and_4xx_not_retried(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(BASE + "/invoices/1", status=500, json=error_body(500, "server_error", "boom"))
    mocked.get(BASE + "/invoices/2", status=404, json=error_body(404, "resource_missing", "nope"))
    with pytest.raises(ServerError):
        client.get_invoice(1)
    with pytest.raises(NotFound):
        client.get_invoice(2)
    assert len(mocked.calls) == 2


# ---- real sockets (loopback only): urllib3's own behaviour, not a mock's --------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_refused_connection_is_connection_failed(sleeps: Sleeps) -> None:
    client = B2BrouterClient(
        f"http://127.0.0.1:{free_port()}", KEY, backoff_factor=0, sleep=sleeps, max_retries=2
    )
    with pytest.raises(ConnectionFailed):
        client.create_invoice(42, {"invoice": {}})
    assert client.calls == 3 and len(sleeps) == 2
    with pytest.raises(ConnectionFailed):
        client.get_invoice(1)


class DroppingServer:
    """Accepts connections, reads the request, closes without answering; counts connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.recv(65536)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dropping_server() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.close()


def test_real_lost_answer_post_not_retried_get_retried(
    dropping_server: DroppingServer, sleeps: Sleeps
) -> None:
    client = B2BrouterClient(
        dropping_server.url, KEY, backoff_factor=0, sleep=sleeps, max_retries=2
    )
    with pytest.raises(ResponseLost):
        client.create_invoice(42, {"invoice": {"number": "F-1"}})
    assert dropping_server.connections == 1
    with pytest.raises(ResponseLost):
        client.get_invoice(1)
    assert dropping_server.connections == 1 + 3  # urllib3 retried the idempotent GET twice


# ---- logs and counting -------------------------------------------------------------------


def test_the_key_never_appears_in_logs(
    client: B2BrouterClient,
    mocked: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    records: list[CallRecord],
    guide_bodies: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    ok_invoice = {"invoice": {"id": 5}}
    meta = {"total_count": 0, "offset": 0, "limit": 25}
    mocked.get(BASE + "/accounts", json={"accounts": [], "meta": meta}, headers=RID)
    mocked.post(BASE + "/accounts", json={"account": {"id": 4}}, status=201)
    mocked.get(
        BASE + "/accounts/4", status=401, json=error_body(401, "invalid_api_key", f"bad {KEY}")
    )
    mocked.get(
        BASE + "/directory/fr/0009/13001533200013",
        status=404,
        json=error_body(404, "resource_missing", "No entry"),
    )
    mocked.post(
        BASE + "/accounts/4/contacts",
        status=422,
        json=error_body(422, "parameter_blank", "Name can't be blank", param="name"),
    )
    mocked.get(BASE + "/contacts/7", json={"contact": {"id": 7}})
    mocked.put(BASE + "/contacts/7", json={"contact": {"id": 7}})
    mocked.get(BASE + "/accounts/4/contacts", json={"contacts": [], "meta": meta})
    mocked.post(BASE + "/accounts/4/invoices", body=refused())
    mocked.post(BASE + "/accounts/4/invoices", body=dropped())
    mocked.get(BASE + "/accounts/4/invoices", json={"invoices": [], "meta": meta})
    mocked.get(BASE + "/invoices/5", json=ok_invoice)
    mocked.put(BASE + "/invoices/5", status=409, json=error_body(409, "conflict", "sent"))
    mocked.post(BASE + "/invoices/send_invoice/5", status=429, headers={"Retry-After": "999"})
    mocked.delete(BASE + "/invoices/5", status=500, body=f"oops {KEY}")
    mocked.post(BASE + "/invoices/5/ack", body=requests.ReadTimeout("read timed out"))
    mocked.get(
        BASE + "/attachments/download/1/F.xml", body=b"<Invoice/>", content_type="application/xml"
    )

    calls: list[Any] = [
        lambda: client.list_accounts(),
        lambda: client.create_account(guide_bodies["account"]),
        lambda: client.get_account(4),
        lambda: client.directory_lookup("13001533200013"),
        lambda: client.create_contact(4, guide_bodies["contact"]),
        lambda: client.get_contact(7),
        lambda: client.update_contact(7, {"contact": {}}),
        lambda: client.list_contacts(4),
        lambda: client.create_invoice(4, guide_bodies["invoice"]),
        lambda: client.find_invoice_by_number(4, "00002"),
        lambda: client.get_invoice(5, include_lines=True),
        lambda: client.update_invoice(5, {"invoice": {}}),
        lambda: client.send_invoice(5),
        lambda: client.delete_invoice(5),
        lambda: client.ack_invoice(5),
        lambda: client.download_legal("/attachments/download/1/F.xml"),
    ]
    errors = []
    for call in calls:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - collecting every error's text
            errors.append(exc)
    assert len(errors) == 8
    assert caplog.records, "each call logs"
    assert KEY not in caplog.text
    assert all(
        KEY not in str(e) and KEY not in repr(e) and KEY not in repr(e.__dict__) for e in errors
    )
    assert KEY not in repr(client)
    client_lines = [r.getMessage() for r in caplog.records if r.name == "b2brouter"]
    assert len(client_lines) == len(records) == 17  # the refused POST was retried once
    assert any(
        "GET /accounts -> 200" in line and RID["X-B2B-API-Request-Id"] in line
        for line in client_lines
    )
    assert any("POST /accounts/4/invoices -> no-answer" in line for line in client_lines)
    assert client.calls == 17


def test_on_response_counts_calls(
    client: B2BrouterClient, mocked: responses.RequestsMock, records: list[CallRecord]
) -> None:
    mocked.post(
        BASE + "/accounts/42/invoices", status=201, json={"invoice": {"id": 1}}, headers=RID
    )
    mocked.post(BASE + "/invoices/send_invoice/1", json={"invoice": {"id": 1}})
    client.create_invoice(42, {"invoice": {}})
    client.send_invoice(1)
    assert client.calls == 2
    first = records[0]
    assert (first.method, first.path, first.status, first.request_id) == (
        "POST",
        "/accounts/42/invoices",
        201,
        RID["X-B2B-API-Request-Id"],
    )
    assert first.elapsed_ms >= 0


def test_client_requires_a_key() -> None:
    with pytest.raises(ValueError):
        B2BrouterClient(BASE, "")


class FlakyHandler(BaseHTTPRequestHandler):
    """Answers 503 (with a request id) to the first `failures` requests, then 200."""

    failures = 2
    seen = 0

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        type(self).seen += 1
        status = 503 if type(self).seen <= self.failures else 200
        body = b'{"invoice": {"id": 1, "total": 10.50}}' if status == 200 else b'{"error": {}}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-B2B-API-Request-Id", f"rid-{type(self).seen}")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_real_get_retried_on_503_and_counted() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        records: list[CallRecord] = []
        client = B2BrouterClient(
            f"http://127.0.0.1:{server.server_port}",
            KEY,
            backoff_factor=0,
            on_response=records.append,
        )
        assert client.get_invoice(1)["total"] == Decimal("10.50")
        assert FlakyHandler.seen == 3
        assert client.calls == 3  # "HTTP calls per invoice" counts urllib3's retries too
        assert records[0].attempts == 3 and records[0].request_id == "rid-3"
    finally:
        server.shutdown()
        server.server_close()


def test_redirects_are_not_followed(
    client: B2BrouterClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        BASE + "/invoices/1", status=302, headers={"Location": "https://elsewhere.example/x"}
    )
    with pytest.raises(B2BrouterError) as caught:
        client.get_invoice(1)
    assert caught.value.status == 302 and len(mocked.calls) == 1


def test_read_timeout_after_retries_is_reported_as_timeout():
    """requests wraps a read timeout in a ConnectionError once urllib3's retries are used up;
    the client still calls it a Timeout, so callers can say "no answer in time"."""
    import socket
    import threading

    import b2brouter

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def accept_and_stay_silent():
        held = []
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue
        for conn in held:
            conn.close()

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    try:
        client = b2brouter.B2BrouterClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "k" * 12,
                                           timeout=(1, 0.2), max_retries=1, backoff_factor=0)
        with pytest.raises(b2brouter.Timeout):
            client.get_account(1)
    finally:
        stop.set()
        thread.join(2)
        listener.close()

"""Webhook signature: `t=<unix>,s=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from b2brouter.webhooks import InvalidSignature, sign, verify_signature

SECRET = "whsec_0123456789abcdef"
BODY = (
    b'{"code":"issued_invoice.state_change","triggered_at":1732530071,'
    b'"data":{"invoice_id":85373,"event_id":381690,"state":"registered","notes":null}}'
)
NOW = 1732530076


def test_sign_follows_the_documented_scheme() -> None:
    expected = hmac.new(SECRET.encode(), b"1732530071." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, 1732530071) == f"t=1732530071,s={expected}"


def test_valid_signature_returns_its_timestamp() -> None:
    header = sign(SECRET, BODY, NOW - 10)
    assert verify_signature(SECRET, header, BODY, now=NOW) == NOW - 10
    assert verify_signature(SECRET.encode(), header, BODY, now=NOW) == NOW - 10
    assert verify_signature(SECRET, header.replace(",", ", "), BODY, now=NOW) == NOW - 10


def test_any_of_several_signatures_may_match() -> None:
    good = sign(SECRET, BODY, NOW)
    forged = sign("old-secret", BODY, NOW).split(",")[1]
    assert verify_signature(SECRET, f"{good},{forged}", BODY, now=NOW) == NOW


@pytest.mark.parametrize(
    "header",
    [
        sign("another-secret", BODY, NOW),  # forged with the wrong secret
        sign(SECRET, BODY + b" ", NOW),  # body tampered
        f"t={NOW + 1},{sign(SECRET, BODY, NOW).split(',')[1]}",  # timestamp swapped
    ],
)
def test_forged_signatures_are_refused(header: str) -> None:
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 10_000])
def test_stale_or_future_timestamps_are_refused(age: int) -> None:
    header = sign(SECRET, BODY, NOW - age)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(SECRET, header, BODY, now=NOW)
    assert verify_signature(SECRET, header, BODY, now=NOW, tolerance=abs(age)) == NOW - age


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=abc,s=00",
        f"t={NOW}",
        "s=" + "0" * 64,
        f"t=-{NOW},s=" + "0" * 64,
        f"t={NOW},t={NOW},s=" + "0" * 64,
        f"t={NOW};s=" + "0" * 64,
    ],
)
def test_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, header, BODY, now=NOW)


def test_no_secret_configured_refuses_everything() -> None:
    with pytest.raises(InvalidSignature):
        verify_signature("", sign("", BODY, NOW), BODY, now=NOW)


# ---- the payload, read into a typed value -------------------------------------------------


def test_a_documented_payload_reads_into_an_invoice_state_change():
    from datetime import UTC, datetime

    from b2brouter import InvoiceStateChange, parse_webhook

    body = (b'{"code":"issued_invoice.state_change","triggered_at":1732530071,'
            b'"data":{"invoice_id":85373,"event_id":381690,"state":"registered","notes":null}}')
    payload = parse_webhook(body)
    change = payload.invoice_state_change()
    assert change == InvoiceStateChange(
        invoice_id=85373, state="registered", event_id=381690, notes="",
        triggered_at=datetime(2024, 11, 25, 10, 21, 11, tzinfo=UTC))
    assert change.as_invoice()["state_updated_at"] == "2024-11-25T10:21:11+00:00"
    assert change.as_invoice()["download_legal_url"] is None


def test_the_sandbox_extras_are_read_when_present():
    from b2brouter import parse_webhook

    body = (b'{"code":"issued_invoice.state_change","triggered_at":1,"data":{"invoice_id":1,'
            b'"state":"error","notes":"Rejet","chorus_status":"X",'
            b'"state_updated_at":"2026-11-25T10:00:00.123Z","download_legal_url":"/a/1/F.xml"}}')
    invoice = parse_webhook(body).invoice_state_change().as_invoice()
    assert invoice["state_updated_at"] == "2026-11-25T10:00:00.123Z"
    assert invoice["errors"] == [{"error": "Rejet"}] and invoice["download_legal_url"] == "/a/1/F.xml"


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"data": {}}', b'{"code": 1}',
    b'{"code":"issued_invoice.state_change","data":[]}',
    b'{"code":"issued_invoice.state_change","data":{"invoice_id":0}}',
    b'{"code":"issued_invoice.state_change","data":{"invoice_id":true}}',
    b'{"code":"issued_invoice.state_change","triggered_at":"soon","data":{"invoice_id":1}}',
    b'{"code":"issued_invoice.state_change","triggered_at":99999999999999,"data":{"invoice_id":1}}',
    b'{"code":"issued_invoice.state_change","data":{"invoice_id":1,"notes":"\\u0000"}}',
])
def test_what_b2brouter_would_not_send_is_refused(body):
    from b2brouter import InvalidPayload, parse_webhook

    with pytest.raises(InvalidPayload):
        parse_webhook(body).invoice_state_change()

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

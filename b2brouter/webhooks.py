"""Webhook signatures: ``X-B2Brouter-Signature: t=<unix s>,s=<hex HMAC-SHA256(secret, "<t>.<body>")>``.

``verify_signature`` is what the receiving view calls on the raw body before trusting anything in
it; ``sign`` produces the header (the sandbox and the tests use it).
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "InvalidSignature", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-B2Brouter-Signature"


class InvalidSignature(Exception):
    """The header is missing or malformed, the signature does not match, or ``t`` is out of range."""


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _digest(secret: str | bytes, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={int(timestamp)},s={_digest(secret, body, int(timestamp))}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature("malformed signature header")
        if key == "t":
            if not value.isdigit() or timestamp is not None:
                raise InvalidSignature("malformed timestamp")
            timestamp = int(value)
        elif key == "s":
            signatures.append(value.lower())
        # unknown keys are ignored so that a future scheme can be added alongside
    if timestamp is None or not signatures:
        raise InvalidSignature("signature header lacks t or s")
    return timestamp, signatures


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> int:
    """Check ``header`` against the raw ``body``; return its timestamp.

    Raises InvalidSignature when the header is missing/malformed, no ``s`` matches (compared in
    constant time), or ``t`` is more than ``tolerance`` seconds from ``now`` either way (a
    replayed or forged old delivery, or a clock far ahead).
    """
    if not secret:
        raise InvalidSignature("no webhook secret configured")
    if not header:
        raise InvalidSignature("missing signature header")
    timestamp, signatures = _parse(header)
    expected = _digest(secret, body, timestamp)
    # compare every candidate, without short-circuit, so timing does not tell which one matched
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    if not matched:
        raise InvalidSignature("signature mismatch")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside tolerance")
    return timestamp

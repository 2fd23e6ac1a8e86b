"""B2Brouter's webhooks: the signature, and the payload read into a typed value.

Signature: ``X-B2Brouter-Signature: t=<unix s>,s=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
``verify_signature`` is what the receiving side calls on the raw body before trusting anything in
it; ``sign`` produces the header (the sandbox and the tests use it).

Payload: ``{"code", "triggered_at", "data": {...}}``; for ``issued_invoice.state_change`` the
documented data are ``invoice_id``, ``event_id``, ``state`` and ``notes``; ``chorus_status``,
``state_updated_at`` and ``download_legal_url`` are read when present (the sandbox adds them,
B2Brouter does not document them). ``parse_webhook`` reads the raw body, ``InvoiceStateChange``
the invoice's change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "INVOICE_STATE_CHANGE",
    "TAX_REPORT_STATE_CHANGE",
    "TaxReportStateChange",
    "SIGNATURE_HEADER",
    "InvalidPayload",
    "InvalidSignature",
    "InvoiceStateChange",
    "WebhookPayload",
    "parse_webhook",
    "sign",
    "verify_signature",
]

INVOICE_STATE_CHANGE = "issued_invoice.state_change"
TAX_REPORT_STATE_CHANGE = "tax_report.state_change"
# The largest unix second a calendar date matches (9999-12-31T23:59:59Z).
_LAST_SECOND = 253402300799

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


class InvalidPayload(ValueError):
    """The body is not a webhook payload B2Brouter sends (not JSON, no code, a bad id...)."""


def _positive_id(value: Any) -> int | None:
    """An id as B2Brouter sends them (a positive integer that fits a bigint), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number < 2**63 else None


def _timestamp_text(value: Any) -> str | None:
    """``state_updated_at`` when it is a real moment (ISO 8601), else None: a notice is applied
    without a field it garbles (its own ``triggered_at`` stands in), never retried for it."""
    if not isinstance(value, str) or not value:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


def _moment(value: Any) -> datetime | None:
    """``triggered_at`` (unix seconds) as a datetime; None when absent."""
    if value in (None, ""):
        return None
    seconds = _positive_id(value)
    if seconds is None or seconds > _LAST_SECOND:
        raise InvalidPayload(f"bad triggered_at {value!r}")
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True)
class WebhookPayload:
    """One notification: its ``code``, when it was triggered, and its ``data`` as sent."""

    code: str
    triggered_at: datetime | None
    data: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, payload: Any) -> WebhookPayload:
        if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
            raise InvalidPayload("no code")
        data = payload.get("data") or {}
        if not isinstance(data, dict):
            raise InvalidPayload("data is not an object")
        return cls(payload["code"], _moment(payload.get("triggered_at")), data, payload)

    def tax_report_state_change(self) -> TaxReportStateChange:
        """The tax report's change this notification tells. Raises InvalidPayload."""
        if self.code != TAX_REPORT_STATE_CHANGE:
            raise InvalidPayload(f"not a tax report state change: {self.code}")
        data = self.data
        report_id = _positive_id(data.get("tax_report_id"))
        if report_id is None:
            raise InvalidPayload("no tax_report_id")
        obj = data.get("object") if isinstance(data.get("object"), dict) else {}
        return TaxReportStateChange(
            tax_report_id=report_id, state=str(data.get("state") or ""),
            event_id=_positive_id(data.get("event_id")) or _positive_id(self.raw.get("id")),
            notes=str(data.get("notes") or ""), triggered_at=self.triggered_at,
            invoice_id=_positive_id(obj.get("invoice_id")))

    def invoice_state_change(self) -> InvoiceStateChange:
        """The invoice's change this notification tells. Raises InvalidPayload."""
        if self.code != INVOICE_STATE_CHANGE:
            raise InvalidPayload(f"not an invoice state change: {self.code}")
        return InvoiceStateChange.from_payload(self)


@dataclass(frozen=True)
class TaxReportStateChange:
    """``tax_report.state_change`` (FR-GUIDE: sent on a tax report's terminal states): the
    report, its state and the reason; the invoice when the report object tells it."""

    tax_report_id: int
    state: str
    event_id: int | None = None
    notes: str = ""
    triggered_at: datetime | None = None
    invoice_id: int | None = None


@dataclass(frozen=True)
class InvoiceStateChange:
    """``issued_invoice.state_change``: the documented fields, and the extras when present."""

    invoice_id: int
    state: str
    event_id: int | None = None
    notes: str = ""
    triggered_at: datetime | None = None
    chorus_status: str = ""
    state_updated_at: str | None = None
    download_legal_url: str | None = None

    @classmethod
    def from_payload(cls, payload: WebhookPayload) -> InvoiceStateChange:
        data = payload.data
        invoice_id = _positive_id(data.get("invoice_id"))
        if invoice_id is None:
            raise InvalidPayload("no invoice_id")
        return cls(
            invoice_id=invoice_id,
            state=str(data.get("state") or ""),
            event_id=_positive_id(data.get("event_id")),
            notes=str(data.get("notes") or ""),
            triggered_at=payload.triggered_at,
            chorus_status=str(data.get("chorus_status") or ""),
            state_updated_at=_timestamp_text(data.get("state_updated_at")),
            download_legal_url=data.get("download_legal_url") or None,
        )

    def as_invoice(self) -> dict[str, Any]:
        """The change as an invoice resource (what a GET would say of it): the state, when it
        changed (``state_updated_at``, else ``triggered_at``), and what else the notice tells."""
        moment = self.state_updated_at or (
            self.triggered_at.isoformat() if self.triggered_at else None)
        invoice: dict[str, Any] = {
            "id": self.invoice_id, "state": self.state, "chorus_status": self.chorus_status,
            "notes": self.notes, "state_updated_at": moment,
            "download_legal_url": self.download_legal_url,
        }
        if self.state == "error":
            invoice["errors"] = [{"error": self.notes}]
        return invoice


def parse_webhook(body: bytes) -> WebhookPayload:
    """The payload of a raw webhook body. Raises InvalidPayload for anything B2Brouter would not
    send: not UTF-8 JSON, a NUL character (no field holds one), half of a UTF-16 pair escaped
    alone ("\\ud800": no text is stored with it), a number JSON cannot hold (NaN, Infinity, or
    one too large for a float: not storable as jsonb), no code, bad data."""
    if b"\\u0000" in body or b"\x00" in body:
        raise InvalidPayload("a NUL character")
    try:
        payload = json.loads(body, parse_constant=_not_a_number, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise InvalidPayload("not JSON") from exc
    if _depth(payload) > MAX_DEPTH:
        raise InvalidPayload(f"nested deeper than {MAX_DEPTH} levels")
    try:  # an escape, or raw bytes (json decodes with "surrogatepass"), may hold one
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidPayload("half of a UTF-16 pair alone") from exc
    return WebhookPayload.from_dict(payload)


def _not_a_number(text: str):
    raise ValueError(f"{text} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large")
    return value


# B2Brouter's notifications are three levels deep; anything far deeper is refused before it is
# stored or read (storing and reading JSON recurse, and a deep enough body overflows the stack).
MAX_DEPTH = 32


def _depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


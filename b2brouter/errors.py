"""Typed errors raised by :class:`b2brouter.client.B2BrouterClient`.

The hierarchy tells a caller what it may do next:

- :class:`TransientError`: try again later. Its subclasses say whether a POST may be repeated
  blindly (:class:`ConnectionFailed`, :class:`RateLimited`: nothing was stored) or must first be
  settled by looking the resource up (:class:`ResponseLost`, :class:`Timeout`, :class:`ServerError`).
- :class:`RejectedError`: the request itself is wrong; repeating it gives the same answer.
  :attr:`RejectedError.field_errors` maps each offending field to its messages.
- :class:`AuthError`: the key or version is refused; nothing will work until configuration changes.
- :class:`NotFound`: the id (or the SIRET in the directory) does not exist for this key.

Every error carries the HTTP status, the API's error code, message, param, details, the
request id and the response body. None of them ever holds the API key: the client scrubs it from
anything echoed back before building the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthError",
    "B2BrouterError",
    "ConflictError",
    "ConnectionFailed",
    "NotFound",
    "RateLimited",
    "RejectedError",
    "ResponseLost",
    "ServerError",
    "Timeout",
    "TransientError",
    "ValidationError",
]


class B2BrouterError(Exception):
    """Base of every error the client raises.

    ``status`` is ``None`` when no HTTP answer was received (connection failure, timeout).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        details: Any = None,
        request_id: str | None = None,
        body: Any = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.param = param
        self.details = details
        self.request_id = request_id
        self.body = body
        self.method = method
        self.path = path

    def __str__(self) -> str:
        head = " ".join(p for p in (self.method, self.path) if p)
        parts = [
            f"{head}:" if head else "",
            str(self.status) if self.status else "",
            self.code or "",
        ]
        text = " ".join(p for p in parts if p)
        text = f"{text} {self.message}".strip() if text else self.message
        extras = []
        if self.param:
            extras.append(f"param={self.param}")
        if self.request_id:
            extras.append(f"request_id={self.request_id}")
        return f"{text} ({', '.join(extras)})" if extras else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class TransientError(B2BrouterError):
    """Worth retrying later: the failure says nothing about the request's content."""


class ConnectionFailed(TransientError):
    """No connection was established (refused, DNS failure, connect timeout).

    Nothing reached the server, so repeating even a POST cannot create a duplicate.
    """


class ResponseLost(TransientError):
    """The request may have been processed but its answer was lost or unreadable.

    For a POST the server may have stored the resource: settle it (look the invoice up by
    number) before sending again.
    """


class Timeout(ResponseLost):
    """The server did not answer in time after the request was sent (ambiguous, as ResponseLost)."""


class RateLimited(TransientError):
    """429: the server refused the request before processing it. Wait ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} retry_after={self.retry_after}s" if self.retry_after is not None else text


class ServerError(TransientError):
    """5xx. For a POST the outcome is unknown: settle before sending again."""


class RejectedError(B2BrouterError):
    """400/409/422 (or another 4xx): the request is wrong as sent; repeating it will not help.

    ``field_errors`` maps field names (``invoice_lines_attributes[0].taxes_attributes``...) to
    their messages, built from ``details`` and ``param``.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field_errors: dict[str, list[str]] = field_errors_from(
            self.details, self.param, message
        )


class ValidationError(RejectedError):
    """422: one or more fields are invalid (``parameter_blank``, ``parameter_taken``...)."""


class ConflictError(RejectedError):
    """409: the resource's state forbids the operation (update, send or delete a sent invoice)."""


class AuthError(B2BrouterError):
    """401/403: missing, unknown or unauthorised API key."""


class NotFound(B2BrouterError):
    """404: unknown id (or another account's), or unknown SIRET in the directory."""


def field_errors_from(details: Any, param: str | None, message: str) -> dict[str, list[str]]:
    """Normalise the API's ``details`` into ``{field: [messages]}``.

    Accepts the contract's list form ``[{"param", "code", "message"}, ...]`` and a mapping
    ``{field: message | [messages]}``; falls back to ``{param: [message]}``.
    """
    errors: dict[str, list[str]] = {}
    if isinstance(details, list):
        for item in details:
            if isinstance(item, Mapping):
                field = str(item.get("param") or param or "__all__")
                errors.setdefault(field, []).append(str(item.get("message") or item.get("code")))
    elif isinstance(details, Mapping):
        for field, value in details.items():
            messages = value if isinstance(value, list) else [value]
            errors.setdefault(str(field), []).extend(str(m) for m in messages)
    if not errors and param:
        errors[param] = [message]
    return errors

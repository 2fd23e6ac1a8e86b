"""The one place that speaks HTTP to B2Brouter.

Retries, by method:

- GET/PUT/DELETE/HEAD are idempotent: a urllib3 ``Retry`` mounted on the session repeats them on
  connection and read errors and on 429/502/503/504, honouring ``Retry-After`` (capped).
- POST is never retried by urllib3. The client repeats a POST itself only where nothing can have
  been stored: the connection was never established (refused, DNS, connect timeout), or the
  server answered 429 (it refuses before processing). Any other failure of a POST (read timeout,
  dropped connection, 5xx, unreadable answer) raises :class:`ResponseLost`/:class:`ServerError`
  and the caller's service settles it (looks the invoice up by number) before trying again.

Nothing here logs or raises the API key: it lives only in the session's headers.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
import simplejson
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from .errors import (
    AuthError,
    B2BrouterError,
    ConflictError,
    ConnectionFailed,
    NotFound,
    RateLimited,
    RejectedError,
    ResponseLost,
    ServerError,
    Timeout,
    ValidationError,
)
from .payloads import DEFAULT_API_VERSION

__all__ = ["B2BrouterClient", "CallRecord", "Download", "Page"]

logger = logging.getLogger("b2brouter")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
# 429 is retried by the client's own loop, for every method (it is answered before anything is
# stored): it waits there for the deployment-wide limiter, which urllib3's retries would bypass.
RETRY_STATUSES = (502, 503, 504)
REQUEST_ID_HEADERS = ("X-B2B-API-Request-Id", "X-Request-Id")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint."""

    items: list[dict[str, Any]]
    total_count: int
    offset: int
    limit: int


class Download(NamedTuple):
    """The exact bytes of a downloaded document and the server's Content-Type."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class CallRecord:
    """What ``on_response`` receives once per HTTP exchange the client sees.

    ``attempts`` counts the urllib3 retries hidden inside it (1 when none); ``status`` is None when
    no answer came back.
    """

    method: str
    path: str
    status: int | None
    elapsed_ms: int
    request_id: str | None
    attempts: int = 1
    error: str | None = None


class _IdempotentOnlyRetry(Retry):
    """A ``Retry`` that never repeats a non-idempotent method.

    Plain urllib3 ``Retry`` repeats any method on connection errors; POST retries are the
    client's own decision (see module docstring), so here they are exhausted at once.
    """

    def increment(
        self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any
    ) -> Retry:
        if method is not None and method.upper() not in IDEMPOTENT_METHODS:
            return Retry(total=0, raise_on_status=False).increment(method, url, *args, **kwargs)
        return super().increment(method, url, *args, **kwargs)


def _make_retry(max_retries: int, backoff_factor: float, retry_after_cap: float) -> Retry:
    options: dict[str, Any] = {
        "total": max_retries,
        "connect": max_retries,
        "read": max_retries,
        "status": max_retries,
        "other": 0,
        "allowed_methods": IDEMPOTENT_METHODS,
        "status_forcelist": RETRY_STATUSES,
        "backoff_factor": backoff_factor,
        "respect_retry_after_header": True,
        # the final 429/5xx answer is returned so the client maps it to a typed error
        "raise_on_status": False,
    }
    # retry_after_max appeared in urllib3 2.x; older versions sleep whatever the server says
    if "retry_after_max" in inspect.signature(Retry.__init__).parameters:
        options["retry_after_max"] = int(retry_after_cap)
    return _IdempotentOnlyRetry(**options)


def _in_chain(exc: BaseException, types: tuple[type[BaseException], ...]) -> bool:
    """True when `exc` or anything it wraps is one of `types`.

    Walks the chain requests builds (ConnectionError -> MaxRetryError.reason -> the urllib3 error).
    """
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, types):
            return True
        if isinstance(current, BaseException):
            stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
            stack.extend(a for a in current.args if isinstance(a, BaseException))
    return False


def _nothing_sent(exc: BaseException) -> bool:
    """True when the connection was never established, so the server cannot have seen the request."""
    return _in_chain(
        exc, (NewConnectionError, NameResolutionError, ConnectTimeoutError, ConnectionRefusedError)
    )


def _timed_out(exc: BaseException) -> bool:
    """True for a read timeout, also once urllib3's retries are used up (requests then raises a
    ConnectionError whose chain holds the ReadTimeoutError)."""
    return isinstance(exc, requests.Timeout) or _in_chain(exc, (ReadTimeoutError,))


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # an HTTP-date: rare enough that a caller's own backoff is good enough
        return None


def _format_date(value: date | datetime | str) -> str:
    """A date filter as documented, ``YYYY-MM-DD``; an aware datetime gives its UTC date."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a datetime filter must be timezone-aware")
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _query_value(key: str, value: Any) -> str:
    """Booleans as the API spells them: ``ack=true|false``, state flags ``sent=1``."""
    if isinstance(value, bool):
        if key == "ack":
            return "true" if value else "false"
        return "1" if value else "0"
    if isinstance(value, (date, datetime)):
        return _format_date(value)
    return str(value)


class B2BrouterClient:
    """Client of the B2Brouter API (see docs/b2brouter-contract.md). Thread-unsafe: one per thread.

    Methods return the unwrapped resource dicts (amounts as ``Decimal``) and raise the typed
    errors of :mod:`b2brouter.errors`. ``calls`` counts HTTP requests made (urllib3 retries
    included); ``on_response`` is called with a :class:`CallRecord` after each exchange.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_version: str = DEFAULT_API_VERSION,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 3,
        backoff_factor: float = 0.5,
        session: requests.Session | None = None,
        *,
        retry_after_cap: float = 30.0,
        on_response: Callable[[CallRecord], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        before_request: Callable[[], None] | None = None,
        on_rate_limited: Callable[[float | None], None] | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.retry_after_cap = retry_after_cap
        self.on_response = on_response
        # A shared rate limit: `before_request` waits for each request's turn, and
        # `on_rate_limited` hears each 429's Retry-After (to pause every caller, not only this).
        self.before_request = before_request
        self.on_rate_limited = on_rate_limited
        self.calls = 0
        self._sleep = sleep
        self._api_key = api_key
        if session is None:
            session = requests.Session()
            # Every call goes to base_url's host: what the environment says for it (a proxy, a
            # CA bundle) is read once, here. requests' trust_env would read the environment and
            # look for a .netrc on every request (CPU on each call; the key is our credential).
            session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
            session.verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                              or os.environ.get("CURL_CA_BUNDLE") or True)
            session.trust_env = False
        self.session = session
        self.session.headers.update(
            {
                "X-B2B-API-Key": api_key,
                "X-B2B-API-Version": api_version,
                "Accept": "application/json",
            }
        )
        adapter = HTTPAdapter(max_retries=_make_retry(max_retries, backoff_factor, retry_after_cap))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        # never the key
        return f"B2BrouterClient({self.base_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # ---- accounts -------------------------------------------------------------------------

    def list_accounts(self, offset: int = 0, limit: int = 25) -> Page:
        """``GET /accounts``: one page of the key's accounts. Idempotent."""
        data = self._request("GET", "/accounts", params={"offset": offset, "limit": limit})
        return self._page(data, "accounts")

    def iter_accounts(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every account of the key, page after page. Idempotent."""
        offset = 0
        while True:
            page = self.list_accounts(offset=offset, limit=page_size)
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total_count:
                return

    def create_account(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /accounts`` with ``payloads.account_body(...)``. Not idempotent."""
        return self._unwrap(self._request("POST", "/accounts", json=body), "account")

    def get_account(self, account_id: int) -> dict[str, Any]:
        """``GET /accounts/{id}``. Raises NotFound."""
        return self._unwrap(self._request("GET", f"/accounts/{int(account_id)}"), "account")

    # ---- the French reform (DGFiP) --------------------------------------------------------

    def create_tax_report_setting(self, account_id: int, body: Mapping[str, Any]
                                  ) -> dict[str, Any]:
        """``POST /accounts/{id}/tax_report_settings`` with ``payloads.tax_report_setting_body``:
        activates the account for the reform (Annuaire registration; rolled back with a
        ValidationError when it fails, e.g. a public SIREN). Not idempotent: a second one for
        the same code is a ValidationError; read it with :meth:`get_tax_report_setting`."""
        path = f"/accounts/{int(account_id)}/tax_report_settings"
        return self._unwrap(self._request("POST", path, json=body), "tax_report_setting")

    def get_tax_report_setting(self, account_id: int, code: str = "dgfip") -> dict[str, Any]:
        """``GET /accounts/{id}/tax_report_settings/{code}``. Raises NotFound."""
        path = f"/accounts/{int(account_id)}/tax_report_settings/{_segment(code)}"
        return self._unwrap(self._request("GET", path), "tax_report_setting")

    def update_tax_report_setting(self, account_id: int, body: Mapping[str, Any],
                                  code: str = "dgfip") -> dict[str, Any]:
        """``PUT /accounts/{id}/tax_report_settings/{code}`` (partial). Idempotent."""
        path = f"/accounts/{int(account_id)}/tax_report_settings/{_segment(code)}"
        return self._unwrap(self._request("PUT", path, json=body), "tax_report_setting")

    def mark_invoice(self, invoice_id: int, state: str, *, paid_date: date | None = None,
                     reason: str = "") -> dict[str, Any] | None:
        """``POST /invoices/{id}/mark_as`` ``{"state": ..., "paid_date"?, "reason"?}`` (REF-MARK,
        PHP-SDK ``InvoiceService::markAs``): the invoice as B2Brouter answers it, or None for an
        answer without one. Asking the same state again changes nothing more."""
        body: dict[str, Any] = {"state": state}
        if paid_date is not None:
            body["paid_date"] = paid_date.isoformat()
        if reason:
            body["reason"] = reason
        data = self._request("POST", f"/invoices/{int(invoice_id)}/mark_as", json=body)
        return _invoice_or_none(data)

    def get_tax_report(self, tax_report_id: int) -> dict[str, Any]:
        """``GET /tax_reports/{id}`` (read-only for DGFiP). Raises NotFound."""
        return self._unwrap(self._request("GET", f"/tax_reports/{int(tax_report_id)}"),
                            "tax_report")

    # ---- directory ------------------------------------------------------------------------

    def directory_lookup(
        self, siret: str, country: str = "fr", scheme: str = "0009"
    ) -> dict[str, Any]:
        """``GET /directory/{country}/{scheme}/{siret}``: the public entity and its Chorus rules.

        Raises NotFound (unknown SIRET) or ValidationError (bad checksum).
        """
        path = f"/directory/{_segment(country)}/{_segment(scheme)}/{_segment(siret)}"
        data = self._request("GET", path)
        if not isinstance(data, dict):
            raise self._malformed("GET", path, data)
        return data

    # ---- contacts -------------------------------------------------------------------------

    def create_contact(self, account_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /accounts/{id}/contacts`` (contact or organisational unit). Not idempotent:
        look the contact up with :meth:`list_contacts` first."""
        path = f"/accounts/{int(account_id)}/contacts"
        return self._unwrap(self._request("POST", path, json=body), "contact")

    def get_contact(self, contact_id: int) -> dict[str, Any]:
        """``GET /contacts/{id}``. Raises NotFound."""
        return self._unwrap(self._request("GET", f"/contacts/{int(contact_id)}"), "contact")

    def update_contact(self, contact_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /contacts/{id}`` with ``{"contact": {...}}`` (partial). Idempotent."""
        path = f"/contacts/{int(contact_id)}"
        return self._unwrap(self._request("PUT", path, json=body), "contact")

    def delete_contact(self, contact_id: int) -> None:
        """``DELETE /contacts/{id}``."""
        self._request("DELETE", f"/contacts/{int(contact_id)}")

    def list_contacts(
        self, account_id: int, *, offset: int = 0, limit: int = 100, **filters: Any
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``GET /accounts/{id}/contacts``: one page. Documented filters (PHP SDK): ``name``
        (name, address or VAT code), ``is_client``, ``is_provider`` and ``integration_code``
        (exact match). B2Brouter may ignore any other: callers check every contact they get
        against what they asked for. Returns ``(items, meta)``."""
        params = {"offset": offset, "limit": limit, **_clean(filters)}
        data = self._request("GET", f"/accounts/{int(account_id)}/contacts", params=params)
        page = self._page(data, "contacts")
        return page.items, data.get("meta") or {}

    def iter_contacts(
        self, account_id: int, *, page_size: int = 100, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Every contact the list answers for ``filters``, page after page. Idempotent.

        A filter the API honours makes this one page; one it ignores makes it every contact of
        the account, which is still correct for a caller that checks each item.
        """
        offset = 0
        while True:
            items, meta = self.list_contacts(account_id, offset=offset, limit=page_size, **filters)
            yield from items
            offset += len(items)
            total = meta.get("total_count", meta.get("total"))
            if not items or len(items) < page_size or (total is not None and offset >= int(total)):
                return

    # ---- invoices -------------------------------------------------------------------------

    def create_invoice(self, account_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /accounts/{id}/invoices`` with ``payloads.invoice_body(...)``.

        Not idempotent. Retried here only when nothing can have been stored (refused
        connection, 429). On ResponseLost/Timeout/ServerError the invoice may exist: call
        :meth:`find_invoice_by_number` before creating it again. A duplicate number raises
        ValidationError with code ``parameter_taken``.
        """
        path = f"/accounts/{int(account_id)}/invoices"
        return self._unwrap(self._request("POST", path, json=body), "invoice")

    def get_invoice(self, invoice_id: int, include_lines: bool = False) -> dict[str, Any]:
        """``GET /invoices/{id}`` (``?include=lines`` when asked). Raises NotFound."""
        params = {"include": "lines"} if include_lines else None
        data = self._request("GET", f"/invoices/{int(invoice_id)}", params=params)
        return self._unwrap(data, "invoice")

    def update_invoice(self, invoice_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /invoices/{id}`` with ``{"invoice": {...}}``. Raises ConflictError when the
        state forbids it (allowed in new, error, refused+A_RECYCLER)."""
        path = f"/invoices/{int(invoice_id)}"
        return self._unwrap(self._request("PUT", path, json=body), "invoice")

    def send_invoice(self, invoice_id: int) -> dict[str, Any] | None:
        """``POST /invoices/send_invoice/{id}``: queue a ``new`` invoice for transmission.

        The answer's shape is not settled by the documentation (an ``{"invoice": ...}``
        envelope, a body such as ``{"tax_report_ids": [...]}``, or 204): the invoice is returned
        when the answer holds it, None otherwise (read it with :meth:`get_invoice`). Raises
        ConflictError when the state forbids sending; on an ambiguous failure, re-read the
        invoice's state before sending again."""
        path = f"/invoices/send_invoice/{int(invoice_id)}"
        return _invoice_or_none(self._request("POST", path))

    def delete_invoice(self, invoice_id: int) -> None:
        """``DELETE /invoices/{id}``: discard a ``new`` or ``error`` invoice (else ConflictError;
        NotFound when it is already gone)."""
        self._request("DELETE", f"/invoices/{int(invoice_id)}")

    def ack_invoice(self, invoice_id: int) -> dict[str, Any] | None:
        """``POST /invoices/{id}/ack``. Idempotent at the server. Returns the invoice when the
        answer holds it (with ``ack_at``), None for another body or 204."""
        path = f"/invoices/{int(invoice_id)}/ack"
        return _invoice_or_none(self._request("POST", path))

    def list_invoices(
        self,
        account_id: int,
        *,
        offset: int = 0,
        limit: int = 100,
        number: str | None = None,
        state_updated_at_from: date | None = None,
        **filters: Any,
    ) -> Page:
        """``GET /accounts/{id}/invoices``: one page, in no order the documentation promises.

        ``state_updated_at_from`` is a date, as documented (``2025-06-12``): a datetime is
        written as its UTC date, so the answer may start earlier than asked, never later.
        Other filters (``ack``, ``type``, ``date_from``, ``sent=True``...) pass through;
        booleans are written ``ack=true|false`` and ``<state>=1|0``.
        """
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if number is not None:
            params["number"] = number
        if state_updated_at_from is not None:
            params["state_updated_at_from"] = _format_date(state_updated_at_from)
        params.update(_clean(filters))
        data = self._request("GET", f"/accounts/{int(account_id)}/invoices", params=params)
        return self._page(data, "invoices")

    def iter_invoices(self, account_id: int, *, page_size: int = 100, **filters: Any
                      ) -> Iterator[Page]:
        """Every page of :meth:`list_invoices` for ``filters``, by offset, until a short or
        empty page (or ``total_count``) says there is no more. Idempotent."""
        offset = 0
        while True:
            page = self.list_invoices(account_id, offset=offset, limit=page_size, **filters)
            yield page
            offset += len(page.items)
            if not page.items or len(page.items) < page_size or offset >= page.total_count:
                return

    def find_invoice_by_number(self, account_id: int, number: str) -> dict[str, Any] | None:
        """The account's issued invoice with exactly this number, or None. Idempotent: this is
        how a lost create is settled."""
        page = self.list_invoices(account_id, number=number, limit=25)
        for item in page.items:
            if item.get("number") == number:
                return item
        return None

    def add_attachment(self, invoice_id: int, filename: str, content: bytes, *,
                       use_as_pdf_view: bool = False) -> None:
        """``POST /invoices/{id}/add_attachment?filename=...``: the raw bytes of a supporting
        document (``application/octet-stream``; 204). ``use_as_pdf_view``: the PDF becomes the
        invoice's visual. Not idempotent: after an ambiguous failure, read the invoice's
        ``attachments`` before uploading again."""
        params = {"filename": filename}
        if use_as_pdf_view:
            params["use_as_pdf_view"] = "true"
        self._send("POST", f"/invoices/{int(invoice_id)}/add_attachment", params=params,
                   body=content, content_type="application/octet-stream")

    def download_pdf(self, invoice_id: int) -> Download:
        """``GET /invoices/{id}/as/pdf.invoice`` with ``Accept: application/pdf``: the invoice's
        PDF. Generated asynchronously: NotFound for a while after the invoice is created."""
        response = self._send("GET", f"/invoices/{int(invoice_id)}/as/pdf.invoice",
                              headers={"Accept": "application/pdf"})
        return Download(response.content, response.headers.get("Content-Type", ""))

    def download_legal(self, download_legal_url: str) -> Download:
        """``GET {download_legal_url}`` with ``Accept: application/xml``: the exact bytes sent.

        The URL is relative to the base URL; an absolute URL on another host is refused
        (ValueError) so that the API key is never sent elsewhere.
        """
        path = self.own_path(download_legal_url)
        response = self._send("GET", path, headers={"Accept": "application/xml"})
        return Download(response.content, response.headers.get("Content-Type", ""))

    # ---- transport ------------------------------------------------------------------------

    def own_path(self, url: str) -> str:
        """The path of a URL B2Brouter gave, relative to the API; ValueError when it is on
        another host (the API key is never sent there)."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            base = urlsplit(self.base_url)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                raise ValueError("download URL is not on the API host")
            base_path = base.path.rstrip("/")
            path = parts.path[len(base_path) :] if parts.path.startswith(base_path) else parts.path
            return path + (f"?{parts.query}" if parts.query else "")
        return url if url.startswith("/") else f"/{url}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send, map errors, and return the decoded JSON (``Decimal`` for fractional numbers)."""
        response = self._send(method, path, params=params, json=json)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return simplejson.loads(response.content, use_decimal=True)
        except ValueError as exc:
            raise self._malformed(method, path, None, response) from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> requests.Response:
        """One logical call: POST retries on refusal/429 here, idempotent ones in urllib3.

        `json` is sent as JSON; `body` as raw bytes of `content_type`. Returns a 2xx response or
        raises a typed error.
        """
        send_headers = dict(headers or {})
        data = body
        if content_type:
            send_headers["Content-Type"] = content_type
        if json is not None:
            data = simplejson.dumps(json, use_decimal=True, ensure_ascii=False).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        retry_post = method.upper() not in IDEMPOTENT_METHODS
        attempt = 0
        while True:
            try:
                response = self._exchange(method, path, params, data, send_headers)
            except ConnectionFailed:
                if not retry_post or attempt >= self.max_retries:
                    raise
                self._sleep(self.backoff_factor * (2**attempt))
                attempt += 1
                continue
            if 200 <= response.status_code < 300:
                return response
            error = self._error_from(method, path, response)
            if isinstance(error, RateLimited):
                wait = (error.retry_after if error.retry_after is not None
                        else self.backoff_factor * (2**attempt))
                if self.on_rate_limited is not None:
                    self.on_rate_limited(wait)  # every caller of the account waits, not only us
                if attempt < self.max_retries and wait <= self.retry_after_cap:
                    # 429 is answered before anything is stored: repeating any request is safe
                    if self.before_request is None:
                        self._sleep(wait)  # (with a limiter, its pause is the wait)
                    attempt += 1
                    continue
            raise error

    def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        data: bytes | None,
        headers: Mapping[str, str],
    ) -> requests.Response:
        """One request through the session; logs and counts it; maps transport failures."""
        url = self.base_url + path
        if self.before_request is not None:
            self.before_request()
        started = time.monotonic()
        try:
            # no redirects: requests would replay our custom key header to whatever host it names
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = self._transport_error(method, path, exc)
            self._record(method, path, None, started, None, 1, str(error))
            raise error from exc
        request_id = _request_id(response)
        attempts = 1 + _retry_count(response)
        self._record(method, path, response.status_code, started, request_id, attempts, None)
        return response

    def _record(
        self,
        method: str,
        path: str,
        status: int | None,
        started: float,
        request_id: str | None,
        attempts: int,
        error: str | None,
    ) -> None:
        elapsed_ms = int((time.monotonic() - started) * 1000)
        self.calls += attempts
        level = logging.INFO if status is not None and status < 400 else logging.WARNING
        logger.log(
            level,
            "b2brouter %s %s -> %s in %d ms request_id=%s attempts=%d%s",
            method,
            path,
            status if status is not None else "no-answer",
            elapsed_ms,
            request_id or "-",
            attempts,
            f" error={self._scrub(error)}" if error else "",
        )
        if self.on_response is not None:
            self.on_response(
                CallRecord(method, path, status, elapsed_ms, request_id, attempts, error)
            )

    def _transport_error(
        self, method: str, path: str, exc: requests.RequestException
    ) -> B2BrouterError:
        kind = type(exc).__name__
        if _nothing_sent(exc):
            return ConnectionFailed(
                f"connection not established ({kind})", method=method, path=path
            )
        if _timed_out(exc):
            return Timeout(f"no answer in time ({kind})", method=method, path=path)
        if isinstance(exc, requests.ConnectionError):
            return ResponseLost(
                f"connection lost before the answer ({kind})", method=method, path=path
            )
        return B2BrouterError(f"request failed ({kind})", method=method, path=path)

    def _error_from(self, method: str, path: str, response: requests.Response) -> B2BrouterError:
        """Map a non-2xx answer to its typed error, with the API key scrubbed from the body."""
        status = response.status_code
        body: Any
        try:
            body = simplejson.loads(self._scrub(response.text), use_decimal=True)
        except ValueError:
            body = self._scrub(response.text[:2000])
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        message = str(err.get("message") or response.reason or "HTTP error")
        kwargs: dict[str, Any] = {
            "status": status,
            "code": err.get("code"),
            "param": err.get("param"),
            "details": err.get("details"),
            "request_id": _request_id(response),
            "body": body,
            "method": method,
            "path": path,
        }
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(message, retry_after=retry_after, **kwargs)
        if status >= 500:
            return ServerError(message, **kwargs)
        if status in (401, 403):
            return AuthError(message, **kwargs)
        if status == 404:
            return NotFound(message, **kwargs)
        if status == 422:
            return ValidationError(message, **kwargs)
        if status == 409:
            return ConflictError(message, **kwargs)
        if 400 <= status < 500:
            return RejectedError(message, **kwargs)
        return B2BrouterError(message, **kwargs)

    def _malformed(
        self,
        method: str | None,
        path: str | None,
        data: Any,
        response: requests.Response | None = None,
    ) -> ResponseLost:
        # a 2xx we cannot read: whether the server acted is unknown, exactly as a lost answer
        return ResponseLost(
            "unexpected response body",
            status=response.status_code if response is not None else None,
            request_id=_request_id(response) if response is not None else None,
            body=self._scrub(response.text[:2000]) if response is not None else data,
            method=method,
            path=path,
        )

    def _unwrap(self, data: Any, key: str) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            raise self._malformed(None, f"(no {key!r} in the answer)", data)
        return data[key]

    def _page(self, data: Any, key: str) -> Page:
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise self._malformed(None, f"(no {key!r} list in the answer)", data)
        items = data[key]
        meta = data.get("meta") or {}
        return Page(
            items=items,
            total_count=int(meta.get("total_count", meta.get("total", len(items)))),
            offset=int(meta.get("offset", 0)),
            limit=int(meta.get("limit", len(items))),
        )

    def _scrub(self, text: str) -> str:
        """Remove the API key from anything echoed back (an error body, an exception text)."""
        return text.replace(self._api_key, REDACTED) if text else text


def _invoice_or_none(data: Any) -> dict[str, Any] | None:
    """The invoice of an ``{"invoice": {...}}`` answer; None for any other body or none."""
    if isinstance(data, dict) and isinstance(data.get("invoice"), dict):
        return data["invoice"]
    return None


def _request_id(response: requests.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return value
    return None


def _retry_count(response: requests.Response) -> int:
    """How many urllib3 retries preceded this answer (0 when unknown)."""
    retries = getattr(response.raw, "retries", None)
    history = getattr(retries, "history", None)
    return len(history) if history else 0


def _segment(value: str) -> str:
    """A path segment, refusing anything that would change the path."""
    text = str(value)
    if not text or any(c in text for c in "/?#") or text in (".", ".."):
        raise ValueError(f"invalid path segment: {text!r}")
    return text


def _clean(filters: Mapping[str, Any]) -> dict[str, str]:
    return {k: _query_value(k, v) for k, v in filters.items() if v is not None}

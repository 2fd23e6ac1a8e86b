"""HTTP front: routing, API key, API version, faults, latency, stats and request logging.

Every API answer carries X-B2B-API-Request-Id; every error has the API's error shape. Faults and
latency apply to API routes only, never to /_sandbox/.
"""

import contextlib
import hmac
import http.server
import logging
import math
import re
import socket
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from sandbox import control, dgfip, invoices, resources
from sandbox.errors import ApiError, bad_request
from sandbox.jsonutil import dumps, loads
from sandbox.settings import API_VERSIONS, LEGACY_VERSION

log = logging.getLogger("sandbox.http")

OLD_VERSION = "2025-10-13"  # answers creates with 200 and schemes as integers
SCHEME_FIELDS = ("tin_scheme", "cin_scheme", "cin1_scheme")

API_ROUTES = [
    ("GET", "/accounts", resources.list_accounts),
    ("POST", "/accounts", resources.create_account),
    ("GET", "/accounts/{id}", resources.show_account),
    ("GET", "/accounts/{id}/contacts", resources.list_contacts),
    ("POST", "/accounts/{id}/contacts", resources.create_contact),
    ("GET", "/contacts/{id}", resources.show_contact),
    ("PUT", "/contacts/{id}", resources.update_contact),
    ("DELETE", "/contacts/{id}", resources.delete_contact),
    ("GET", "/directory/{country}/{scheme}/{ident}", resources.directory_lookup),
    ("GET", "/accounts/{id}/invoices", invoices.list_invoices),
    ("POST", "/accounts/{id}/invoices", invoices.create_invoice),
    ("GET", "/invoices/{id}", invoices.show_invoice),
    ("PUT", "/invoices/{id}", invoices.update_invoice),
    ("DELETE", "/invoices/{id}", invoices.delete_invoice),
    ("POST", "/invoices/send_invoice/{id}", invoices.send_invoice),
    ("POST", "/invoices/{id}/ack", invoices.ack_invoice),
    ("POST", "/invoices/{id}/mark_as", invoices.mark_as),
    ("POST", "/invoices/{id}/add_attachment", invoices.add_attachment),
    ("GET", "/invoices/{id}/as/{code}", invoices.render_as),
    ("GET", "/attachments/download/{id}/{filename}", invoices.download_attachment),
    ("GET", "/accounts/{id}/tax_report_settings", dgfip.list_settings),
    ("POST", "/accounts/{id}/tax_report_settings", dgfip.create_setting),
    ("GET", "/accounts/{id}/tax_report_settings/{code}", dgfip.show_setting),
    ("PUT", "/accounts/{id}/tax_report_settings/{code}", dgfip.update_setting),
    ("DELETE", "/accounts/{id}/tax_report_settings/{code}", dgfip.delete_setting),
    ("GET", "/accounts/{id}/tax_reports", dgfip.list_reports),
    ("GET", "/tax_reports/{id}", dgfip.show_report),
]
CONTROL_ROUTES = [
    ("GET", "/_sandbox/health", control.health),
    ("POST", "/_sandbox/invoices/{id}/state", control.set_state),
    ("GET", "/_sandbox/invoices/{id}/events", control.events),
    ("POST", "/_sandbox/advance", control.advance),
    ("GET", "/_sandbox/faults", control.get_faults),
    ("POST", "/_sandbox/faults", control.post_faults),
    ("DELETE", "/_sandbox/faults", control.delete_faults),
    ("GET", "/_sandbox/webhook", control.get_webhook),
    ("PUT", "/_sandbox/webhook", control.put_webhook),
    ("GET", "/_sandbox/webhook/deliveries", control.deliveries),
    ("GET", "/_sandbox/stats", control.get_stats),
    ("GET", "/_sandbox/dgfip", dgfip.control_get),
    ("POST", "/_sandbox/dgfip", dgfip.control_post),
    ("DELETE", "/_sandbox/stats", control.delete_stats),
]


def _compile(routes):
    return [
        (method, template, re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), fn)
        for method, template, fn in routes
    ]


COMPILED_API = _compile(API_ROUTES)
RAW_BODY_ROUTES = (invoices.add_attachment,)
COMPILED_CONTROL = _compile(CONTROL_ROUTES)


class Request:
    """What a handler sees: app, method, path, query (last value of each), body (parsed JSON),
    raw (the bytes, for the routes that take a file), params."""

    def __init__(self, app, method, path, query, body, params, version, raw=b""):
        self.app, self.method, self.path, self.query = app, method, path, query
        self.body, self.params, self.version, self.raw = body, params, version, raw


class Answer:
    """A response to write: JSON payload or raw XML bytes; `lose` = close without answering."""

    def __init__(self, status, payload, headers=None, route=None, lose=False):
        self.status, self.payload, self.headers = status, payload, headers or {}
        self.route, self.lose = route, lose


def _match(routes, method, path):
    for route_method, template, regex, fn in routes:
        found = regex.match(path)
        if found and route_method == method:
            return f"{method} {template}", fn, found.groupdict()
    return None, None, {}


def _check_key(app, headers):
    key = headers.get("X-B2B-API-Key")
    if not key:
        raise ApiError(401, "missing_api_key", "No API key provided. Set the X-B2B-API-Key header.")
    if not hmac.compare_digest(key.encode(), app.settings.api_key.encode()):
        raise ApiError(401, "invalid_api_key",
                       "Invalid API Key provided, or it is not valid for this environment.")


def _version(app, headers):
    version = (headers.get("X-B2B-API-Version") or "").strip() or app.settings.default_version
    if not version:
        raise ApiError(400, "missing_api_version", "No API version given (X-B2B-API-Version).")
    if version == LEGACY_VERSION:
        raise ApiError(400, "api_version_subdomain_mismatch",
                       f"API version {version} is only served on the app.* hosts.")
    if version not in API_VERSIONS:
        raise ApiError(400, "invalid_api_version", f"Unsupported API version: {version}")
    return version


def _parse_body(raw):
    if not raw.strip():
        return None
    try:
        return loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON") from None


def _old_schemes(payload):
    """Scheme codes as integers, as API version 2025-10-13 returns them."""
    if isinstance(payload, list):
        return [_old_schemes(p) for p in payload]
    if isinstance(payload, dict):
        return {
            k: int(v) if k in SCHEME_FIELDS and isinstance(v, str) and v.isdigit() else _old_schemes(v)
            for k, v in payload.items()
        }
    return payload


def _control(app, method, path, headers, raw):
    route, fn, params = _match(COMPILED_CONTROL, method, path)
    if fn is None:
        raise ApiError(404, "resource_missing", f"No such sandbox endpoint: {method} {path}")
    if fn is not control.health:
        _check_key(app, headers)
    status, payload = fn(Request(app, method, path, {}, _parse_body(raw), params, None))
    return Answer(status, payload, route=route)


def _api(app, method, path, query, headers, raw):
    lookup_path = path[:-5] if path.endswith(".json") and "/attachments/" not in path else path
    route, fn, params = _match(COMPILED_API, method, lookup_path)
    app.stats.count(route or f"{method} (unknown route)")
    if app.settings.latency_ms:
        time.sleep(app.settings.latency_ms / 1000)
    _check_key(app, headers)
    wait = app.rate_limit.take(headers.get("X-B2B-API-Key", ""))
    if wait:
        app.stats.limited()
        raise ApiError(429, "rate_limited", "Too many requests, retry later",
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})
    version = _version(app, headers)
    if fn is None:
        raise ApiError(404, "resource_missing", f"Unrecognized request URL ({method} {path})")
    fault = app.faults.pick(method, lookup_path)
    if fault == "error_5xx":
        raise ApiError(500, "server_error", "Internal server error (injected by the sandbox)")
    if fault == "rate_limit":
        retry = app.faults.retry_after
        raise ApiError(429, "rate_limited", "Too many requests, retry later",
                       headers={"Retry-After": str(retry)})
    if fault == "slow":
        time.sleep(app.faults.slow_ms / 1000)
    body = None if fn in RAW_BODY_ROUTES else _parse_body(raw)
    status, payload = fn(Request(app, method, lookup_path, query, body, params, version, raw))
    if version == OLD_VERSION:
        status = 200 if status == 201 else status
        payload = _old_schemes(payload)
    return Answer(status, payload, route=route, lose=fault == "lost_response")


def handle(app, method, target, headers, raw):
    """The Answer to one HTTP request (never raises)."""
    split = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    try:
        if split.path.startswith("/_sandbox/"):
            return _control(app, method, split.path, headers, raw)
        return _api(app, method, split.path, query, headers, raw)
    except ApiError as exc:
        return Answer(exc.status, exc.body(app.settings.documented_only), exc.headers)
    except Exception:
        log.exception("unhandled error on %s %s", method, split.path)
        return Answer(500, ApiError(500, "server_error", "Internal server error").body())


class Handler(http.server.BaseHTTPRequestHandler):
    """Reads a request, asks `handle` for the answer, writes it (or drops it), logs one line."""

    protocol_version = "HTTP/1.1"
    server_version = "B2BrouterSandbox/1.0"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle's algorithm and the
        # client's delayed ACK would add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self):
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        answer = handle(self.server.app, self.command, self.path, self.headers, raw)
        request_id = str(uuid.uuid4())
        if answer.lose:
            self._drop()
        else:
            self._write(answer, request_id)
        elapsed = (time.monotonic() - started) * 1000
        status = "lost" if answer.lose else answer.status
        log.info("%s %s %s %.0fms %s", self.command, self.path, status, elapsed, request_id)

    def _write(self, answer, request_id):
        if answer.status == 204:
            body, kind = b"", None
        elif isinstance(answer.payload, bytes):
            body = bytes(answer.payload)
            kind = getattr(answer.payload, "content_type", "application/xml")
        else:
            body, kind = dumps(answer.payload).encode("utf-8"), "application/json; charset=utf-8"
        self.send_response(answer.status)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-B2B-API-Request-Id", request_id)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self):
        """Close the connection without a byte of answer (the request was handled)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format, *args):
        """Silenced: `_serve` logs one line per request itself (without any header)."""


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, app):
        super().__init__((app.settings.host, app.settings.port), Handler)
        self.app = app

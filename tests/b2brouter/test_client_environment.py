"""The client reads what the environment says for B2Brouter's host (proxy, CA bundle) once, when
it is made, not on every request: a proxy still carries every call, a .netrc is never read."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses

from b2brouter import B2BrouterClient

KEY = "sk_test_THE-SECRET-KEY-0123456789"
BASE = "http://b2brouter.invalid"  # resolves nowhere: only a proxy can reach it


class _Proxy(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append(self.path)
        body = json.dumps({"account": {"id": 1, "name": "Through the proxy"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy():
    _Proxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Proxy.seen
    server.shutdown()
    server.server_close()


def _clear_proxy_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_a_proxy_from_the_environment_carries_every_call(monkeypatch, proxy):
    url, seen = proxy
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", url)
    client = B2BrouterClient(BASE, KEY, max_retries=0)
    monkeypatch.delenv("HTTP_PROXY")  # read when the client was made, not per request

    assert client.get_account(1)["name"] == "Through the proxy"
    assert client.get_account(1)["name"] == "Through the proxy"
    assert seen == [f"{BASE}/accounts/1", f"{BASE}/accounts/1"]


def test_no_proxy_for_the_host_goes_direct(monkeypatch, proxy):
    url, seen = proxy
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "b2brouter.invalid")
    client = B2BrouterClient(BASE, KEY, max_retries=0)

    assert client.session.proxies == {}


def test_the_ca_bundle_from_the_environment_is_used(monkeypatch, tmp_path):
    _clear_proxy_env(monkeypatch)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))

    assert B2BrouterClient("https://api.b2brouter.net", KEY).session.verify == str(bundle)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert B2BrouterClient("https://api.b2brouter.net", KEY).session.verify is True


@responses.activate
def test_no_request_reads_the_environment_again(monkeypatch):
    """requests' trust_env re-reads the proxies and looks for a .netrc on every request: CPU
    spent on each call (and a .netrc would add credentials of its own beside our key)."""
    _clear_proxy_env(monkeypatch)

    def refuse(*args, **kwargs):
        raise AssertionError("the environment was read for a request")

    monkeypatch.setattr(requests.sessions, "get_netrc_auth", refuse)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", refuse)
    monkeypatch.setattr(requests.utils, "get_netrc_auth", refuse)
    client = B2BrouterClient("https://api-staging.b2brouter.net", KEY, max_retries=0)
    responses.get("https://api-staging.b2brouter.net/accounts/1", json={"account": {"id": 1}})

    assert client.get_account(1)["id"] == 1
    assert "Authorization" not in responses.calls[0].request.headers

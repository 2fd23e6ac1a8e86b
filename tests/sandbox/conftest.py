"""Fixtures for the sandbox tests: a running sandbox, an HTTP helper, accounts and contacts.

These tests need no database and no Django: run them with
`.venv/bin/pytest -p no:django tests/sandbox -q`.
"""

import itertools
import time
from decimal import Decimal

import pytest
import requests
import simplejson

from tests.support.sandbox import SandboxProcess

AMU_SIRET = "13001533200013"
AMU_SERVICE = "ESR_MISSION_FACTURES_DEPLACEMENTS"
IBAN = "FR7630006000011234567890189"
_numbers = itertools.count(1)


def unique_number(prefix="T"):
    """An invoice number never used before in this test session (at most 20 characters)."""
    return f"{prefix}-{int(time.time()) % 100000}-{next(_numbers)}"


def wait_for(predicate, timeout=5.0, interval=0.02):
    """Poll `predicate` until it returns a truthy value (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class Api:
    """requests against one sandbox, with its key and version; JSON parsed with Decimal."""

    def __init__(self, sandbox, version="2026-03-02"):
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.headers.update(sandbox.headers(version))

    def call(self, method, path, json=None, **kwargs):
        data = None if json is None else simplejson.dumps(json, use_decimal=True)
        return self.session.request(method, self.sandbox.url + path, data=data, timeout=10,
                                    **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.call("POST", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.call("PUT", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)

    @staticmethod
    def body(response):
        return simplejson.loads(response.text, use_decimal=True)

    def ok(self, method, path, json=None, status=(200, 201)):
        """Call and return the parsed body, asserting a success status."""
        response = self.call(method, path, json=json)
        assert response.status_code in ((status,) if isinstance(status, int) else status), (
            response.status_code, response.text)
        return self.body(response)

    # -- builders ------------------------------------------------------------------------------
    def create_account(self, **fields):
        account = {"country": "fr", "rounding_method": "half_up", "tin_value": "FR13542107651",
                   "tin_scheme": 9957, "name": "Exemplar SAS", "address": "10 Rue Imaginaire",
                   "city": "Paris", "postalcode": "75001", "province": "Île-de-France",
                   "email": "john.doe@example.com", "cin_value": "54210765100011",
                   "cin_scheme": "0009", **fields}
        return self.ok("POST", "/accounts", {"account": account})["account"]

    def create_contact(self, account_id, **fields):
        contact = {"name": "Client", "country": "fr", "tin_value": "FR40303265045", **fields}
        return self.ok("POST", f"/accounts/{account_id}/contacts", {"contact": contact})["contact"]

    def create_chorus_contact(self, account_id, siret=AMU_SIRET, name="PUBLIC ENTITY"):
        return self.create_contact(
            account_id, tin_value=None, name=name, public_sector=True, cin_value=siret,
            cin_scheme="0009", transport_type_code="fr.chorus",
            document_type_code="xml.ubl.invoice.chorus")

    def create_invoice(self, account_id, contact_id, send=False, status=201, **fields):
        body = {"send_after_import": send, "invoice": invoice_body(contact_id, **fields)}
        response = self.post(f"/accounts/{account_id}/invoices", body)
        assert response.status_code == status, response.text
        return self.body(response)

    def invoice(self, invoice_id, include_lines=False):
        suffix = "?include=lines" if include_lines else ""
        return self.ok("GET", f"/invoices/{invoice_id}{suffix}")["invoice"]

    def wait_state(self, invoice_id, state, timeout=5.0):
        return wait_for(lambda: (inv := self.invoice(invoice_id))["state"] == state and inv,
                        timeout=timeout)

    def set_state(self, invoice_id, state, **extra):
        return self.ok("POST", f"/_sandbox/invoices/{invoice_id}/state",
                       {"state": state, **extra})["invoice"]


def invoice_body(contact_id, lines=None, **fields):
    """A valid invoice body (one 10 % line unless `lines` is given); fields override."""
    lines = lines or [line("Cocktail Dinatoire", 135, 25, 10)]
    return {"type": "IssuedInvoice", "contact_id": contact_id, "number": unique_number(),
            "date": "2025-06-18", "due_date": "2025-07-18", "currency": "EUR",
            "bank_account": {"type": "iban", "iban": IBAN}, "terms": "custom",
            "invoice_lines_attributes": lines, **fields}


def line(description, quantity, price, percent, category="S", comment=None, unit=1):
    tax = {"name": "TVA", "category": category, "percent": Decimal(str(percent))}
    if comment:
        tax["comment"] = comment
    return {"description": description, "quantity": Decimal(str(quantity)),
            "price": Decimal(str(price)), "unit": unit, "taxes_attributes": [tax]}


@pytest.fixture(scope="session")
def sandbox():
    """The shared sandbox (send delay 0.05 s, no automatic advance)."""
    process = SandboxProcess(send_delay=0.05, webhook_backoff=0.2).start()
    yield process
    process.stop()


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


@pytest.fixture
def account(api):
    """A fresh account, so that invoice numbers and lists do not collide between tests."""
    return api.create_account()


@pytest.fixture
def amu(api, account):
    """UNIVERSITE D AIX MARSEILLE (service code + commitment mandatory) as a contact."""
    return api.create_chorus_contact(account["id"], AMU_SIRET, "UNIVERSITE D AIX MARSEILLE")


@pytest.fixture
def plain_contact(api, account):
    """A private-sector customer (no Chorus rules)."""
    return api.create_contact(account["id"])

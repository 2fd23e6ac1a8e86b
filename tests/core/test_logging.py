"""Every log line about an invoice names it and its remote id, the client's lines included."""

import json
import logging

import pytest

from core.logging import ContextFilter, JsonFormatter, RedactSecretsFilter, log_context
from invoicing.services import submission
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []
        self.addFilter(ContextFilter())
        self.addFilter(RedactSecretsFilter())

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collected():
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(previous)


def test_submission_lines_carry_invoice_and_remote_id(registered_account, collected):
    invoice = InvoiceFactory(account=registered_account, number="LOG-1")
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    about = [r for r in collected if r.name in ("b2brouter", "invoicing.services")
             and "/invoices" in r.getMessage() or r.name == "invoicing.services"]
    assert about, "no line was logged"
    for record in about:
        assert record.invoice == "LOG-1", record.getMessage()
    submitted = [r for r in collected if "submitted" in r.getMessage()]
    assert submitted[0].remote_id == invoice.remote_id


def test_json_lines_are_structured_and_without_secrets(settings):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key is %s", (settings.B2BROUTER_API_KEY,), None)
    with log_context(invoice="F-9", remote_id=42):
        ContextFilter().filter(record)
        RedactSecretsFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    assert line["invoice"] == "F-9" and line["remote_id"] == 42
    assert settings.B2BROUTER_API_KEY not in json.dumps(line)
    assert "[redacted]" in line["message"]

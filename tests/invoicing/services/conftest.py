"""Fixtures of the services' tests: an invoice of a registered account, sent or queued."""


import pytest

from tests.factories import InvoiceFactory


@pytest.fixture
def invoice(registered_account):
    return InvoiceFactory(account=registered_account)


@pytest.fixture(autouse=True)
def _no_faults(sandbox):
    sandbox.control("DELETE", "/_sandbox/faults")
    yield
    sandbox.control("DELETE", "/_sandbox/faults")


@pytest.fixture
def process_now(enqueued):
    """Runs a webhook's processing task inline when the receiving transaction commits."""
    from invoicing.services import webhooks

    enqueued.inline("invoicing.webhook_process", lambda pk: webhooks.webhook_process(event_pk=pk))

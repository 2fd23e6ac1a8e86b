"""Fixtures of the invoice pages' tests: an account, its invoice, a staff member signed in."""


import pytest

from core.roles import STAFF
from tests.factories import AccountFactory, InvoiceFactory
from tests.invoicing.helpers import user_in


@pytest.fixture(autouse=True)
def _no_broker(enqueued):
    """No message leaves for the broker: the tests look at what would be enqueued."""
    return enqueued["invoicing.invoice_submit"]


@pytest.fixture
def account():
    return AccountFactory(invoice_number_prefix="F2026-", next_invoice_sequence=7,
                          registered=True)


@pytest.fixture
def invoice(account):
    return InvoiceFactory(account=account, number="F2026-00001")


@pytest.fixture
def staff(account):
    return user_in(STAFF, account)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client

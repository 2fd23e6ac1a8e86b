"""Fixtures of the hostile-input tests: an account with a buyer, and signed-in users by role."""

import pytest

from core.roles import ADMINS, STAFF
from tests.factories import AccountFactory, BuyerFactory, ServiceFactory
from tests.invoicing.helpers import user_in


@pytest.fixture
def account(db):
    return AccountFactory(invoice_number_prefix="H-", next_invoice_sequence=1, registered=True)


@pytest.fixture
def buyer(account):
    return BuyerFactory(account=account)


@pytest.fixture
def service(buyer):
    return ServiceFactory(buyer=buyer)


@pytest.fixture
def staff_client(client, account):
    client.force_login(user_in(STAFF, account))
    return client


@pytest.fixture
def superuser(account):
    return user_in(ADMINS, account, is_staff=True, is_superuser=True)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client

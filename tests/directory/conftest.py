"""Fixtures of the directory tests: users by role, attached to a registered account."""

import pytest
from django.contrib.auth.models import Group

from b2brouter import B2BrouterClient
from core.roles import ADMINS, FINANCE, STAFF
from tests.factories import UserFactory

SEED_SIRET = "13001533200013"
SEED_SERVICE = "ESR_MISSION_FACTURES_DEPLACEMENTS"


def make_user(role: str | None, *accounts, **extra):
    user = UserFactory(username=f"{role or 'nobody'}-{UserFactory._meta.model.objects.count()}",
                       **extra)
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    for account in accounts:
        account.users.add(user)
    return user


@pytest.fixture
def account(registered_account):
    return registered_account


@pytest.fixture
def staff_user(account):
    return make_user(STAFF, account)


@pytest.fixture
def finance_user(account):
    return make_user(FINANCE, account)


@pytest.fixture
def admin_user(account):
    return make_user(ADMINS, account, is_staff=True, is_superuser=True)


@pytest.fixture
def sandbox_stats(b2b):
    """Requests the sandbox has counted so far for a route, e.g. "GET /directory/..."."""

    def count(route: str) -> int:
        return b2b.control("GET", "/_sandbox/stats")["requests"].get(route, 0)

    return count


DIRECTORY_ROUTE = "GET /directory/{country}/{scheme}/{ident}"
CONTACTS_POST = "POST /accounts/{id}/contacts"


@pytest.fixture
def no_retry_client(monkeypatch, settings):
    """The services' client without urllib3 retries, so that failure tests stay fast."""
    clients = {}

    def factory():
        key = (settings.B2BROUTER_API_URL, settings.B2BROUTER_TIMEOUT)
        if key not in clients:
            clients[key] = B2BrouterClient(
                base_url=settings.B2BROUTER_API_URL, api_key=settings.B2BROUTER_API_KEY,
                api_version=settings.B2BROUTER_API_VERSION,
                timeout=(1, settings.B2BROUTER_TIMEOUT), max_retries=0)
        return clients[key]

    monkeypatch.setattr("directory.services.b2brouter_client", factory)
    return factory


@pytest.fixture
def sandbox_faults(b2b):
    """Sets sandbox faults for one test and clears them afterwards."""

    before = b2b.control("GET", "/_sandbox/faults")

    def inject(body: dict) -> None:
        b2b.control("POST", "/_sandbox/faults", body)

    yield inject
    b2b.control("DELETE", "/_sandbox/faults")
    b2b.control("POST", "/_sandbox/faults", {"rates": before["rates"], "slow_ms": before["slow_ms"],
                                             "retry_after": before["retry_after"]})

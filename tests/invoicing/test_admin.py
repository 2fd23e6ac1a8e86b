"""The admin of accounts: an account made in the admin is registered at B2Brouter from there."""

import pytest
from django.urls import reverse

from core.models import Account
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_an_admin_registers_an_account_at_b2brouter(client, admin_user, b2b):
    account = AccountFactory(name="Nouvelle SARL", vat_number="FR40303265045")
    client.force_login(admin_user)
    response = client.post(reverse("admin:core_account_changelist"), {
        "action": "register_at_b2brouter", "_selected_action": [account.pk]}, follow=True)
    account.refresh_from_db()
    assert account.remote_id
    assert "enregistré chez B2Brouter" in " ".join(str(m) for m in response.context["messages"])
    again = client.post(reverse("admin:core_account_changelist"), {
        "action": "register_at_b2brouter", "_selected_action": [account.pk]}, follow=True)
    assert again.status_code == 200
    assert Account.objects.get(pk=account.pk).remote_id == account.remote_id  # idempotent


def test_b2brouter_unreachable_at_registration_is_said_not_a_500(client, admin_user, settings):
    settings.B2BROUTER_API_URL = "http://127.0.0.1:9"  # nothing listens
    settings.B2BROUTER_TIMEOUT = 1
    account = AccountFactory(name="Nouvelle SARL")
    client.force_login(admin_user)
    response = client.post(reverse("admin:core_account_changelist"), {
        "action": "register_at_b2brouter", "_selected_action": [account.pk]}, follow=True)
    assert response.status_code == 200
    assert "Réessayez plus tard" in " ".join(str(m) for m in response.context["messages"])
    assert Account.objects.get(pk=account.pk).remote_id is None

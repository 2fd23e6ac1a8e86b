"""Nobody let in who should not be, and no secret shown anywhere."""

import logging

import pytest
from django.contrib.auth.models import Group

from core import roles
from tests.factories import InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def test_sign_in_is_throttled_after_repeated_failures(client, settings):
    user = UserFactory(username="claire")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/login/", {"username": "claire", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    assert client.post("/login/", {"username": "claire", "password": "wrong"}).status_code == 429
    locked = client.post("/login/", {"username": "claire", "password": PASSWORD})
    assert locked.status_code == 429
    assert "15 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    other = client.post("/login/", {"username": user.username, "password": PASSWORD},
                        REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302  # the lock is per username and address


def test_many_usernames_tried_from_one_address_lock_that_address(client, settings):
    """One or two guesses per username stay under the per-username lock; the address's failures
    are counted across usernames, and past their limit it may not sign in, even rightly."""
    import random

    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 12
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    user = UserFactory(username="ines")
    for n in range(settings.SIGNIN_ADDRESS_FAILURE_LIMIT):
        response = client.post("/login/", {"username": f"agent{n}", "password": "wrong"},
                               REMOTE_ADDR=address)
        assert response.status_code == 200, n
    for url in ("/login/", "/admin/login/"):
        locked = client.post(url, {"username": user.username, "password": PASSWORD},
                             REMOTE_ADDR=address)
        assert locked.status_code == 429
        assert "depuis votre adresse" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    elsewhere = client.post("/login/", {"username": user.username, "password": PASSWORD},
                            REMOTE_ADDR="192.0.2.1")
    assert elsewhere.status_code == 302


def test_a_good_password_resets_the_failure_count(client, settings):
    UserFactory(username="marc")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/login/", {"username": "marc", "password": "wrong"})
    assert client.post("/login/", {"username": "marc", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/login/", {"username": "marc", "password": "wrong"})
    assert client.post("/login/", {"username": "marc", "password": PASSWORD}).status_code == 302


def test_secrets_never_reach_logs_errors_or_the_admin(client, settings, b2b, registered_account, caplog):
    """The API key and webhook secret, whatever happens: a refused key, a server error, the
    admin pages an administrator can open."""
    import b2brouter
    from core.gateway import b2brouter_client

    caplog.set_level(logging.DEBUG)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin.groups.add(Group.objects.get_or_create(name=roles.ADMINS)[0])
    invoice = InvoiceFactory(account=registered_account)
    client.force_login(admin)
    pages = [client.get(url) for url in (
        "/admin/", "/admin/invoicing/account/", f"/admin/invoicing/account/{registered_account.pk}/change/",
        f"/admin/invoicing/invoice/{invoice.pk}/change/", "/health/")]
    settings.B2BROUTER_API_KEY = "wrong-key-but-secret-0123"
    with pytest.raises(b2brouter.AuthError) as refused:
        b2brouter_client().list_accounts()
    b2b.control("POST", "/_sandbox/faults", {"queue": [{"kind": "error_5xx"}]})
    settings.B2BROUTER_API_KEY = b2b.api_key
    with pytest.raises(b2brouter.ServerError) as failed:
        b2brouter_client().list_accounts()
    shown = "".join(p.content.decode() for p in pages) + str(refused.value) + repr(refused.value)
    shown += str(failed.value) + caplog.text
    for secret in (b2b.api_key, "wrong-key-but-secret-0123", settings.B2BROUTER_WEBHOOK_SECRET):
        assert secret not in shown


def test_production_cookies_and_headers_are_secure():
    import os
    import subprocess
    import sys

    code = ("from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
            " s.SESSION_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, s.DEBUG)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "0",
           "DJANGO_SECRET_KEY": "s" * 50}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True", "True", "True", "False"]

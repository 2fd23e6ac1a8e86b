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
    settings.TRUSTED_PROXIES = ["direct"]  # clients reach this server themselves
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


def test_behind_a_proxy_not_declared_made_up_names_lock_nobody_else_out(client, settings):
    """Every request comes from the proxy's address: 25 failed sign-ins with made-up names do
    not lock every user out (the lock-outs key on username and address), whatever the client
    writes in X-Forwarded-For."""
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 20
    settings.TRUSTED_PROXIES = []
    user = UserFactory(username="paul")
    for n in range(25):
        client.post("/login/", {"username": f"nobody{n}", "password": "wrong"},
                    REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    signed_in = client.post("/login/", {"username": user.username, "password": PASSWORD},
                            REMOTE_ADDR="10.1.1.1")
    assert signed_in.status_code == 302


def test_through_a_trusted_proxy_the_clients_own_address_is_locked_not_the_proxys(client,
                                                                                  settings):
    import random

    from axes.models import AccessAttempt

    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 20
    settings.TRUSTED_PROXIES = ["10.2.0.0/16"]
    user = UserFactory(username="lea")
    address = f"198.51.{random.randrange(256)}.{random.randrange(1, 255)}"  # a count of its own
    attacker = {"REMOTE_ADDR": "10.2.0.5", "HTTP_X_FORWARDED_FOR": f"1.2.3.4, {address}"}
    for n in range(20):
        client.post("/login/", {"username": f"nobody{n}", "password": "wrong"}, **attacker)
    # the attacker's address is locked (a forged first hop "1.2.3.4" is not believed)...
    assert client.post("/login/", {"username": user.username, "password": PASSWORD},
                       **attacker).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {address}
    # ...and a colleague behind the same proxy is not
    colleague = client.post("/login/", {"username": user.username, "password": PASSWORD},
                            REMOTE_ADDR="10.2.0.5",
                            HTTP_X_FORWARDED_FOR=f"192.0.2.{random.randrange(1, 255)}")
    assert colleague.status_code == 302


def test_sign_in_works_while_redis_is_down(client, settings, caplog):
    """The cache away (Redis down): signing in goes on (the address limit without its count),
    with a log line, never a 500."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}  # nothing listens
    settings.TRUSTED_PROXIES = ["direct"]
    user = UserFactory(username="zoe")
    failed = client.post("/login/", {"username": user.username, "password": "wrong"})
    assert failed.status_code == 200
    signed_in = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert any("cache unavailable" in r.getMessage() for r in caplog.records)


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
        "/admin/", "/admin/core/account/", f"/admin/core/account/{registered_account.pk}/change/",
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


def test_the_debug_error_page_hides_passwords_in_addresses_and_the_csrf_token(client, settings,
                                                                               monkeypatch):
    """DJANGO_DEBUG=1 and a failure: the technical page lists the settings and the request's
    META (where runserver copies the environment): no password of DATABASE_URL, EMAIL_URL or the
    broker's address, and no CSRF token."""
    import secrets

    from invoicing import selectors

    db_password, mail_password, broker_password = (secrets.token_hex(6) for _ in range(3))
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = f"redis://:{broker_password}@redis.example:6379/0"

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "invoice_list_page", boom)
    user = UserFactory(username="debugger")
    user.groups.add(Group.objects.get_or_create(name=roles.STAFF)[0])
    client.force_login(user)
    client.get("/login/")  # a CSRF cookie
    token = client.cookies["csrftoken"].value
    client.raise_request_exception = False
    response = client.get("/invoices/", HTTP_ACCEPT="text/html", HTTP_X_CSRFTOKEN=token,
                          DATABASE_URL=f"postgres://chorus:{db_password}@db:5432/chorus",
                          EMAIL_URL=f"smtp://factures:{mail_password}@smtp.example.fr:587")
    assert response.status_code == 500
    page = response.content.decode()
    assert "a bug" in page and "DATABASE_URL" in page  # Django's technical page, META shown
    for secret in (db_password, mail_password, broker_password, token):
        assert secret not in page
    assert "postgres://chorus:********************@db:5432/chorus" in page


def test_signed_in_pages_and_files_are_never_cached(client, settings):
    """Invoices, their files and the exports say `private, no-store`: no proxy keeps them, no
    browser writes them to disk; the sign-in page is left to the defaults."""
    from tests.invoicing.helpers import user_in

    invoice = InvoiceFactory()
    client.force_login(user_in(roles.STAFF, invoice.account))
    for url in ("/", "/invoices/", f"/invoices/{invoice.pk}/", f"/invoices/{invoice.pk}/print/",
                "/invoices/export.csv", "/finance/archive/"):
        response = client.get(url)
        if response.status_code == 403:
            continue
        control = response.get("Cache-Control", "")
        assert "private" in control and "no-store" in control, (url, control)

"""CSRF on every form: a POST without the token is refused on every URL of the project, the
webhook excepted (B2Brouter signs it instead); every form of every page carries the token."""

import time

import lxml.html
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from b2brouter.webhooks import sign
from core.roles import ADMINS, STAFF
from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import form_data, set_state, user_in
from tests.support.urls import all_routes

pytestmark = pytest.mark.django_db

CSRF_EXEMPT = {"b2brouter_webhook"}


@pytest.fixture
def objects(account, buyer, service):
    invoice = InvoiceFactory(account=account, buyer=buyer, service=service, number="H-00001")
    return {"pk": invoice.pk, "attachment_pk": 1, "object_id": invoice.pk, "id": 1,
            "content_type_id": 1, "app_label": "invoicing", "url": "nowhere/", "invoice": invoice}


def _guarded_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def test_every_post_without_the_token_is_refused(superuser, objects):
    client = _guarded_client(superuser)
    anonymous = _guarded_client()
    routes = [route for route in all_routes() if route.key not in CSRF_EXEMPT]
    assert len(routes) > 50
    for route in routes:
        url = route.fill(objects)
        for who, each in (("admin", client), ("anonymous", anonymous)):
            response = each.post(url, {"ids": [objects["pk"]], "action": "save"})
            assert response.status_code == 403, f"{who} POST {url} without a token: " \
                                                 f"{response.status_code}"
    objects["invoice"].refresh_from_db()
    assert objects["invoice"].state == S.DRAFT


def test_a_post_with_the_token_gets_through(superuser, objects, account, buyer, service):
    client = _guarded_client(superuser)
    page = client.get(reverse("invoicing:create"))
    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    before = Invoice.objects.count()
    response = client.post(reverse("invoicing:create"),
                           {**form_data(buyer, service, account=account), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Invoice.objects.count() == before + 1
    htmx = client.post(reverse("invoicing:form_totals"), form_data(buyer, account=account),
                       HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200  # the header htmx sends (hx-headers on <body>)


def test_the_webhook_is_exempt_but_signed(client):
    guarded = _guarded_client()
    body = b'{"code": "issued_invoice.state_change", "data": {}}'
    unsigned = guarded.post("/webhooks/b2brouter/", body, content_type="application/json")
    assert unsigned.status_code in (400, 401)
    header = sign(settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time()))
    signed = guarded.post("/webhooks/b2brouter/", body, content_type="application/json",
                          HTTP_X_B2BROUTER_SIGNATURE=header)
    assert signed.status_code in (200, 400)  # read, not refused for want of a token


def _post_forms(html: str) -> list:
    return [form for form in lxml.html.fromstring(html).forms if (form.method or "").upper() == "POST"]


def test_every_form_of_every_page_carries_the_token(client, account, buyer, service):
    staff = user_in(STAFF, account)
    draft = InvoiceFactory(account=account, buyer=buyer, service=service, number="H-00002")
    refused = set_state(InvoiceFactory(account=account, buyer=buyer, service=service,
                                       number="H-00003"), S.REFUSED, "A_RECYCLER")
    rejected = set_state(InvoiceFactory(account=account, buyer=buyer, service=service,
                                        number="H-00004"), S.REFUSED, "REJETEE")
    pages = [reverse("invoicing:list"), reverse("invoicing:create"),
             reverse("invoicing:edit", args=[draft.pk]), reverse("invoicing:detail", args=[draft.pk]),
             reverse("invoicing:detail", args=[refused.pk]), reverse("invoicing:fix", args=[refused.pk]),
             reverse("invoicing:detail", args=[rejected.pk]), reverse("directory:buyers"),
             reverse("directory:buyer_detail", args=[buyer.pk]), reverse("finance:worklist")]
    seen = 0
    for user in (staff, user_in(ADMINS, account, is_staff=True, is_superuser=True)):
        client.force_login(user)
        for url in pages:
            html = client.get(url).content.decode()
            assert 'hx-headers=\'{"x-csrftoken": "' in html, url
            for form in _post_forms(html):
                seen += 1
                assert "csrfmiddlewaretoken" in form.fields, f"{url}: {form.action}"
        client.logout()
    login = client.get(reverse("login")).content.decode()
    assert all("csrfmiddlewaretoken" in form.fields for form in _post_forms(login))
    assert seen >= 20

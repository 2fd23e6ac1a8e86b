"""Hostile input at the webhook endpoint: whatever arrives, never a 500, never a change unless
it is signed with our secret."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2brouter.webhooks import sign
from invoicing.models import WebhookEvent

pytestmark = pytest.mark.django_db

URL = "/webhooks/b2brouter/"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=80, deadline=None, suppress_health_check=HEALTH)
@given(body=st.binary(max_size=300), header=st.text(max_size=80))
def test_unsigned_garbage_is_refused(client, body, header):
    response = client.post(URL, body, content_type="application/json",
                           HTTP_X_B2BROUTER_SIGNATURE=header)
    assert response.status_code in (400, 401)
    assert not WebhookEvent.objects.exists()


@settings(max_examples=120, deadline=None, suppress_health_check=HEALTH)
@given(data=json_values, code=st.sampled_from(["issued_invoice.state_change", "tax_report.state_change", ""]))
def test_signed_but_odd_payloads_never_fail(client, django_settings, data, code):
    body = json.dumps({"code": code, "triggered_at": int(time.time()), "data": data}).encode()
    header = sign(django_settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time()))
    response = client.post(URL, body, content_type="application/json", HTTP_X_B2BROUTER_SIGNATURE=header)
    assert response.status_code in (200, 400), response.content


@pytest.fixture
def django_settings(settings):
    return settings


ids = st.one_of(st.integers(), st.text(max_size=25), st.none(), st.booleans(), st.floats())


@settings(max_examples=150, deadline=None, suppress_health_check=HEALTH)
@given(invoice_id=ids, event_id=ids, state=st.text(max_size=40), notes=json_values,
       triggered=st.one_of(st.integers(), st.text(max_size=12), st.none()))
def test_signed_state_changes_with_hostile_fields(client, django_settings, invoice_id, event_id, state,
                                                  notes, triggered):
    body = json.dumps({"code": "issued_invoice.state_change", "triggered_at": triggered,
                       "data": {"invoice_id": invoice_id, "event_id": event_id, "state": state,
                                "notes": notes}}).encode()
    header = sign(django_settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time()))
    response = client.post(URL, body, content_type="application/json", HTTP_X_B2BROUTER_SIGNATURE=header)
    assert response.status_code in (200, 400), response.content


@pytest.mark.parametrize("field", ["state", "notes", "extra"])
def test_nul_characters_do_not_break_storage(client, django_settings, field):
    """PostgreSQL refuses NUL in text and jsonb: such a payload is refused, not a 500."""
    data = {"invoice_id": 12, "event_id": 77, "state": "sent", "notes": None, field: "a\x00b"}
    body = json.dumps({"code": "issued_invoice.state_change", "triggered_at": int(time.time()),
                       "data": data}).encode()
    header = sign(django_settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time()))
    response = client.post(URL, body, content_type="application/json", HTTP_X_B2BROUTER_SIGNATURE=header)
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("depth", [100_000, 20_000, 3_000, 990, 600, 200, 40])
@pytest.mark.parametrize("where", ["notes", "extra", "top"])
def test_a_deeply_nested_signed_body_is_refused_not_a_500(client, django_settings, depth, where):
    """A body B2Brouter would never send, nested so deep that parsing, storing or reading it
    recursively would overflow the stack: refused (400), never a 500."""
    nested = "[" * depth + "]" * depth
    data = {"invoice_id": 12, "event_id": 77, "state": "sent", "notes": None}
    if where == "top":
        body = (f'{{"code": "issued_invoice.state_change", "triggered_at": {int(time.time())}, '
                f'"data": {json.dumps(data)}, "x": {nested}}}').encode()
    else:
        inner = json.dumps({**data, where: "@@"}).replace('"@@"', nested)
        body = (f'{{"code": "issued_invoice.state_change", "triggered_at": {int(time.time())}, '
                f'"data": {inner}}}').encode()
    header = sign(django_settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time()))
    response = client.post(URL, body, content_type="application/json", HTTP_X_B2BROUTER_SIGNATURE=header)
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("where", ["payload", "storage"])
def test_a_debug_error_page_never_shows_the_webhook_secret(client, django_settings, monkeypatch,
                                                           where):
    """Even with DEBUG on and a failure deep in the handling, the error page shows no secret (in
    the settings, in a frame's local variables, in the request's headers)."""
    import secrets

    from b2brouter.webhooks import WebhookPayload
    from invoicing.models import WebhookEvent

    secret, key = "whsec-" + secrets.token_hex(8), "key-" + secrets.token_hex(8)  # not in source
    django_settings.DEBUG = True
    django_settings.B2BROUTER_WEBHOOK_SECRET = secret
    django_settings.B2BROUTER_API_KEY = key
    owner, attribute = {"payload": (WebhookPayload, "from_dict"),
                        "storage": (WebhookEvent.objects, "create")}[where]

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(owner, attribute, boom)
    client.raise_request_exception = False
    body = json.dumps({"code": "issued_invoice.state_change", "triggered_at": int(time.time()),
                       "data": {"invoice_id": 12, "event_id": 78, "state": "sent"}}).encode()
    header = sign(django_settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time()))
    response = client.post(URL, body, content_type="application/json",
                           HTTP_X_B2BROUTER_SIGNATURE=header, HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    page = response.content.decode()
    assert "a bug" in page  # it is Django's technical page
    assert secret not in page
    assert key not in page
    assert header.split("v1=")[-1][:16] not in page


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("where", ["notes", "triggered_at", "extra"])
def test_a_number_json_cannot_hold_is_refused_not_a_500(client, django_settings, number, where):
    """Python reads NaN and Infinity (and 1e999 as an infinite float); PostgreSQL's jsonb does
    not store them: such a signed body is refused (400), never a 500."""
    data = '{"invoice_id": 12, "event_id": 77, "state": "sent", "notes": null'
    data += f', "notes2": {number}}}' if where == "extra" else "}"
    if where == "notes":
        data = data.replace('"notes": null', f'"notes": {number}')
    triggered = number if where == "triggered_at" else str(int(time.time()))
    body = (f'{{"code": "issued_invoice.state_change", "triggered_at": {triggered}, '
            f'"data": {data}}}').encode()
    header = sign(django_settings.B2BROUTER_WEBHOOK_SECRET, body, int(time.time()))
    response = client.post(URL, body, content_type="application/json", HTTP_X_B2BROUTER_SIGNATURE=header)
    assert response.status_code == 400, response.content

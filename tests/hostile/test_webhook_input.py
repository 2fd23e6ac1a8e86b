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

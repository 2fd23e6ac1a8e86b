"""Many rows at once (COPY on PostgreSQL): the same rows bulk_create would write."""

import datetime

import pytest

from core.bulk import insert_rows
from invoicing.models import InvoiceEvent
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("count", [3, 25])  # below FEW: one INSERT; from it: COPY on PostgreSQL
def test_rows_are_written_with_their_ids_dates_and_json_in_order(count):
    invoice = InvoiceFactory()
    before = datetime.datetime.now(datetime.UTC)
    events = [InvoiceEvent(invoice=invoice, kind=InvoiceEvent.Kind.STATE, source="poll",
                           from_state="sent", to_state="registered", message=f"n°{n} «é» \t\\",
                           response_body={"n": n, "list": [1, "deux", None], "text": "a\nb"})
              for n in range(count)]
    insert_rows(InvoiceEvent, events)
    assert all(e.pk for e in events) and [e.pk for e in events] == sorted(e.pk for e in events)
    stored = list(InvoiceEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("pk"))
    assert [e.message for e in stored] == [f"n°{n} «é» \t\\" for n in range(count)]
    assert [e.response_body for e in stored] == [
        {"n": n, "list": [1, "deux", None], "text": "a\nb"} for n in range(count)]
    assert all(e.created_at >= before for e in stored)  # auto_now_add, as bulk_create sets it
    assert all(not e._state.adding for e in events)
    insert_rows(InvoiceEvent, [])  # nothing to do

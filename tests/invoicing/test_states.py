"""The state machine: the pipeline as data, and the one setter that assigns the state."""

import pytest

from invoicing import states
from invoicing.models import InvoiceEvent
from invoicing.models import InvoiceState as S
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def test_a_transition_saves_the_state_and_writes_its_history_row():
    invoice = InvoiceFactory()
    assert states.invoice_transition(invoice=invoice, to=S.QUEUED, source="user",
                                     history={"message": "Envoi demandé"}, last_error="")
    invoice.refresh_from_db()
    assert invoice.state == S.QUEUED
    row = invoice.events.filter(kind=InvoiceEvent.Kind.STATE).last()
    assert (row.from_state, row.to_state, row.message) == (S.DRAFT, S.QUEUED, "Envoi demandé")


def test_staying_in_a_state_saves_the_fields_and_writes_no_row():
    invoice = InvoiceFactory()
    rows = invoice.events.count()
    assert not states.invoice_transition(invoice=invoice, to=S.DRAFT, source="user",
                                         last_error="x")
    invoice.refresh_from_db()
    assert invoice.last_error == "x" and invoice.events.count() == rows


@pytest.mark.parametrize("current, to", [
    (S.DRAFT, S.PAID), (S.DRAFT, S.SUBMITTING), (S.PAID, S.SENT), (S.REGISTERED, S.SENDING),
    (S.CLOSED, S.QUEUED), (S.SENT, S.QUEUED),
])
def test_a_move_the_pipeline_does_not_allow_is_refused(current, to):
    invoice = InvoiceFactory()
    invoice.state = current  # a row as it would be in that state (the test's own setting)
    rows = invoice.events.count()
    with pytest.raises(states.InvalidTransition):
        states.invoice_transition(invoice=invoice, to=to, source="worker")
    assert invoice.events.count() == rows


def test_the_pipeline_moves_remote_states_forward_only():
    for state, rank in states.REMOTE_RANK.items():
        for other, other_rank in states.REMOTE_RANK.items():
            assert (other in states.PIPELINE[state]) == (other_rank > rank), (state, other)
    assert S.QUEUED in states.PIPELINE[S.ERROR] and S.QUEUED in states.PIPELINE[S.REFUSED]


def test_batched_transitions_write_each_invoice_its_own_values():
    """One UPDATE for the lot (UPDATE ... FROM VALUES on PostgreSQL), each row its own values,
    the history rows written, and what stayed the same untouched."""
    import datetime

    from django.db import transaction
    from django.utils import timezone

    from tests.invoicing.helpers import set_state

    invoices = [set_state(InvoiceFactory(number=f"B-{n}"), "sent", "DEPOSEE") for n in range(3)]
    moments = [timezone.now() - datetime.timedelta(minutes=n) for n in range(3)]
    with transaction.atomic(), states.transitions_batched():
        for invoice, moment, status in zip(invoices, moments,
                                           ["MISE_A_DISPOSITION", "SERVICE_FAIT", ""], strict=True):
            states.invoice_transition(invoice=invoice, to="registered" if status != "SERVICE_FAIT"
                                      else "accepted", source=InvoiceEvent.Source.POLL,
                                      state_updated_at=moment, chorus_status=status)
        assert InvoiceEvent.objects.filter(to_state__in=["registered", "accepted"]).count() == 0
    for invoice, moment in zip(invoices, moments, strict=True):
        invoice.refresh_from_db()
        assert invoice.state_updated_at == moment
    assert [(i.state, i.chorus_status, i.number) for i in invoices] == [
        ("registered", "MISE_A_DISPOSITION", "B-0"), ("accepted", "SERVICE_FAIT", "B-1"),
        ("registered", "", "B-2")]
    assert InvoiceEvent.objects.filter(to_state__in=["registered", "accepted"]).count() == 3

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

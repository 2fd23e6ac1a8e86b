"""The one state machine: which B2Brouter state may follow which, whatever the source.

B2Brouter (and Chorus Pro behind it) only ever moves an invoice forward within one submission
round; repeated or late notifications must never move ours backwards. Two ways lead back to a
new round, both decided by the user: a routing return (a refusal Chorus Pro sends back for its
routing data, A_RECYCLER) fixed and resent under the same number, and a failed deposit (`error`,
terminal at B2Brouter) corrected here and created again under the same number.

Every state B2Brouter documents has its place here (the list filters, the mark_as targets and
the historical engine, see docs/b2brouter-contract.md "States"); a state not listed is recorded
in the invoice's history, never silently dropped, and changes nothing.

`PIPELINE` says which state may follow which; `invoice_transition` is the one place that assigns
`invoice.state`, refuses a move the pipeline does not allow, and writes the history row (a test
fails if any other code assigns the state).
"""

import contextvars
from contextlib import contextmanager

from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone

from core import bulk
from invoicing.models import (  # noqa: F401 - what a refusal asks, read here too
    NOT_OWED,
    REJECTED,
    REJECTION,
    ROUTING,
    ROUTING_RETURN,
    SUSPENDED,
    SUSPENSION,
    UNKNOWN,
    Invoice,
    refusal_kind,
)
from invoicing.models import InvoiceState as S
from invoicing.services import events

# Local states: the invoice is ours alone, or on its way to B2Brouter.
LOCAL_STATES = frozenset({S.DRAFT, S.QUEUED, S.SUBMITTING, S.FAILED})

# How far along the remote life cycle a state is. Equal ranks are alternative outcomes.
REMOTE_RANK = {
    S.NEW: 1,
    S.SENDING: 2,
    S.SENT: 3,
    # A deposit that fails (Chorus Pro), or a declaration the tax administration refuses after
    # the deposit (FR-GUIDE, CDV negative): either way the alternative to `registered`.
    S.ERROR: 4,
    S.REGISTERED: 4,
    S.ACCEPTED: 5,
    S.REFUSED: 5,
    S.ALLEGEDLY_PAID: 6,
    S.PAID: 7,
    S.CLOSED: 8,
    S.CANCELLED: 8,
    S.ANNULLED: 8,
    S.DISCARDED: 8,
}
REMOTE_STATES = frozenset(REMOTE_RANK)

# No further change is expected from B2Brouter in these (an error or a refusal waits on the user).
FINAL_STATES = frozenset({S.PAID, S.CLOSED, S.REFUSED, S.ERROR, S.FAILED, S.CANCELLED,
                          S.ANNULLED, S.DISCARDED})

# Deposited at Chorus Pro: the legal XML exists from here on.
DEPOSITED_STATES = frozenset({S.SENT, S.REGISTERED, S.ACCEPTED, S.REFUSED, S.ALLEGEDLY_PAID,
                              S.PAID, S.CLOSED})

def _forward(state: str) -> frozenset:
    rank = REMOTE_RANK[state]
    return frozenset(s for s, r in REMOTE_RANK.items() if r > rank)


# Which state may follow which. B2Brouter's states only move forward (by rank); the way back
# to a new round is the user's: a failed deposit corrected, or a routing return fixed, is
# queued again (whether a refusal may be is `can_resend`'s to say).
PIPELINE: dict[str, frozenset] = {
    S.DRAFT: frozenset({S.QUEUED}),
    S.FAILED: frozenset({S.QUEUED}),
    S.QUEUED: frozenset({S.SUBMITTING}) | REMOTE_STATES,
    S.SUBMITTING: frozenset({S.QUEUED, S.FAILED}) | REMOTE_STATES,
    **{state: _forward(state) for state in REMOTE_STATES},
}
PIPELINE[S.ERROR] |= {S.QUEUED}
PIPELINE[S.REFUSED] |= {S.QUEUED}


class InvalidTransition(Exception):
    """A move the pipeline does not allow: a bug, never a user's doing."""


def invoice_transition(*, invoice: Invoice, to: str, source: str, actor=None,
                       history: dict | None = None, **fields) -> bool:
    """The one place that assigns `invoice.state`.

    Saves `to` with `fields` (other columns of the invoice that change with it) in one update,
    and, when the state changes, writes its history row (`history`: the row's extra columns,
    e.g. the reason or the B2Brouter answer). Staying in the same state only saves `fields`.
    The caller holds the row's lock. Returns True when the state changed; raises
    InvalidTransition for a move `PIPELINE` does not allow.
    """
    current = invoice.state
    if to != current and to not in PIPELINE.get(current, frozenset()):
        raise InvalidTransition(f"{invoice.number}: {current} -> {to}")
    for name, value in fields.items():
        setattr(invoice, name, value)
    invoice.state = to
    batch = _batch.get()
    if batch is not None:  # written with the batch's others when it ends (`transitions_batched`)
        batch.add(invoice, ["state", *fields])
    else:
        invoice.save(update_fields=["state", *fields, "updated_at"])
    if to == current:
        return False
    if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credited_invoice_id:
        if batch is not None:
            batch.credited.add(invoice.credited_invoice_id)
        else:
            credited_amount_refresh([invoice.credited_invoice_id])
    event = events.state_changed_event(invoice=invoice, from_state=current, source=source,
                                       actor=actor, save=batch is None, **(history or {}))
    if batch is not None:
        batch.events.append(event)
    return True


class _Batch:
    def __init__(self):
        self.invoices: dict[int, tuple[Invoice, set[str]]] = {}
        self.events: list = []
        self.credited: set[int] = set()  # invoices whose credit notes changed state

    def add(self, invoice: Invoice, names) -> None:
        kept = self.invoices.setdefault(invoice.pk, (invoice, set()))
        kept[1].update(names)

    def flush(self) -> None:
        now = timezone.now()
        by_fields: dict[frozenset, list[Invoice]] = {}
        for invoice, names in self.invoices.values():
            invoice.updated_at = now
            by_fields.setdefault(frozenset(names), []).append(invoice)
        for names, invoices in by_fields.items():
            # Only the fields of an invoice's life (state, dates, remote data): what an issued
            # invoice says is refused by the database here too (its triggers).
            bulk.update_rows(Invoice, invoices, sorted(names | {"updated_at"}))
        if self.events:
            bulk.insert_rows(type(self.events[0]), self.events, batch_size=500)
        if self.credited:
            credited_amount_refresh(sorted(self.credited))


def credited_amount_refresh(invoice_ids) -> None:
    """Writes on each invoice what its issued credit notes take off what it asks (a credit note
    refused, or not deposited, takes nothing off): after any state change of one of them, so
    that what is left to pay (`models.REMAINING`) is read without adding them up."""
    counted = (Invoice.objects.filter(credited_invoice=OuterRef("pk"), kind=Invoice.Kind.CREDIT_NOTE)
               .exclude(state__in=(*NOT_OWED, S.REFUSED)).exclude(number="")
               .order_by().values("credited_invoice").annotate(sum=Sum("total")).values("sum"))
    Invoice.objects.filter(pk__in=invoice_ids).update(credited_amount=Subquery(counted))


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("transitions", default=None)


@contextmanager
def transitions_batched():
    """Inside (a transaction holding the invoices' locks), `invoice_transition` writes nothing at
    once: on leaving, one UPDATE per set of changed fields and one write of all the history rows
    (core/bulk.py: COPY for many, an INSERT for a few), for the status sync applying hundreds of
    changes, and for a submission's claim and answer (a state change with its exchange row: one
    UPDATE, one INSERT). The same rules, the same rows."""
    batch = _Batch()
    token = _batch.set(batch)
    try:
        yield batch
    finally:
        _batch.reset(token)
    batch.flush()


def is_known(state: str) -> bool:
    return state in REMOTE_STATES or state in LOCAL_STATES


def is_forward(current: str, new: str) -> bool:
    """True when B2Brouter reporting `new` moves an invoice now in `current` forward."""
    if new not in REMOTE_STATES:
        return False
    if current in LOCAL_STATES:
        return True
    return REMOTE_RANK[new] > REMOTE_RANK.get(current, 0)


def can_fix_routing(state: str, chorus_status: str, reason: str, final: bool = False) -> bool:
    """A refusal that may be a routing return: corrected and resent under the same number.
    `final`: the invoice's channel makes every refusal final (`channels.Company`)."""
    return refusal_kind(state, chorus_status, reason, final) in (ROUTING, UNKNOWN)


def can_replace(state: str, chorus_status: str, reason: str, final: bool = False) -> bool:
    """A refusal that may be a rejection: cancelled by a credit note, replaced by a new invoice."""
    return refusal_kind(state, chorus_status, reason, final) in (REJECTION, UNKNOWN)


def can_resend(state: str, chorus_status: str, reason: str = "", final: bool = False) -> bool:
    """Sent again under the same number: a routing return (refused, fixed), or an invoice whose
    deposit failed (error), corrected and created again at B2Brouter."""
    return state == S.ERROR or can_fix_routing(state, chorus_status, reason, final)

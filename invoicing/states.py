"""The one state machine: which B2Brouter state may follow which, whatever the source.

B2Brouter (and Chorus Pro behind it) only ever moves an invoice forward within one submission
round; repeated or late notifications must never move ours backwards. A routing return
(`refused` with Chorus status A_RECYCLER) is the one way back: the user fixes the invoice and a
new round starts from a local state; so is a failed deposit (`error`).
"""

from invoicing.models import InvoiceState as S

# Local states: the invoice is ours alone, or on its way to B2Brouter.
LOCAL_STATES = frozenset({S.DRAFT, S.QUEUED, S.SUBMITTING, S.FAILED})

# How far along the remote life cycle a state is. Equal ranks are alternative outcomes.
REMOTE_RANK = {
    S.NEW: 1,
    S.SENDING: 2,
    S.SENT: 3,
    S.ERROR: 3,
    S.REGISTERED: 4,
    S.ACCEPTED: 5,
    S.REFUSED: 5,
    S.PAID: 6,
    S.CLOSED: 7,
}
REMOTE_STATES = frozenset(REMOTE_RANK)

# No further change is expected from B2Brouter in these (an error or a refusal waits on the user).
FINAL_STATES = frozenset({S.PAID, S.CLOSED, S.REFUSED, S.ERROR, S.FAILED})

# Deposited at Chorus Pro: the legal XML exists from here on.
DEPOSITED_STATES = frozenset({S.SENT, S.REGISTERED, S.ACCEPTED, S.REFUSED, S.PAID, S.CLOSED})

ROUTING_RETURN = "A_RECYCLER"


def is_forward(current: str, new: str) -> bool:
    """True when B2Brouter reporting `new` moves an invoice now in `current` forward."""
    if new not in REMOTE_STATES:
        return False
    if current in LOCAL_STATES:
        return True
    return REMOTE_RANK[new] > REMOTE_RANK.get(current, 0)


def can_resend(state: str, chorus_status: str) -> bool:
    """Corrected and resent under the same number: a routing return (refused, A_RECYCLER), or an
    invoice whose deposit failed (error), which B2Brouter lets us update and send again."""
    return state == S.ERROR or (state == S.REFUSED and chorus_status == ROUTING_RETURN)

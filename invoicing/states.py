"""The one state machine: which B2Brouter state may follow which, whatever the source.

B2Brouter (and Chorus Pro behind it) only ever moves an invoice forward within one submission
round; repeated or late notifications must never move ours backwards. Two ways lead back to a
new round, both decided by the user: a routing return (a refusal Chorus Pro sends back for its
routing data, A_RECYCLER) fixed and resent under the same number, and a failed deposit (`error`,
terminal at B2Brouter) corrected here and created again under the same number.

Every state B2Brouter documents has its place here (the list filters, the mark_as targets and
the historical engine, see docs/b2brouter-contract.md "States"); a state not listed is recorded
in the invoice's history, never silently dropped, and changes nothing.
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

# Chorus Pro's statuses for an invoice it sends back (chorus-domain.md §1.4).
ROUTING_RETURN = "A_RECYCLER"
REJECTED = "REJETEE"
SUSPENDED = "SUSPENDUE"

# What a refusal asks of the supplier.
ROUTING = "routing"  # fix the routing data (service, commitment), resend under the same number
REJECTION = "rejection"  # dead: a credit note and a new invoice under a new number
SUSPENSION = "suspension"  # documents missing: complete it on the Chorus Pro portal
UNKNOWN = "unknown"  # B2Brouter gives a reason only: the user reads it and chooses

_STATUS_KIND = {ROUTING_RETURN: ROUTING, REJECTED: REJECTION, SUSPENDED: SUSPENSION}
# Words that name the Chorus Pro status in a refusal's reason when no status is given.
_REASON_WORDS = (("A_RECYCLER", ROUTING), ("A RECYCLER", ROUTING), ("RECYCL", ROUTING),
                 ("SUSPENDUE", SUSPENSION), ("REJETEE", REJECTION), ("REJETÉE", REJECTION))


def is_known(state: str) -> bool:
    return state in REMOTE_STATES or state in LOCAL_STATES


def is_forward(current: str, new: str) -> bool:
    """True when B2Brouter reporting `new` moves an invoice now in `current` forward."""
    if new not in REMOTE_STATES:
        return False
    if current in LOCAL_STATES:
        return True
    return REMOTE_RANK[new] > REMOTE_RANK.get(current, 0)


def refusal_kind(state: str, chorus_status: str, reason: str) -> str:
    """What a refused invoice asks of the supplier: ROUTING, REJECTION, SUSPENSION or UNKNOWN;
    "" when the invoice is not refused.

    Chorus Pro's status decides when B2Brouter gives it (an extra, not documented); otherwise
    the reason is read for the status's name; otherwise it is UNKNOWN and both fixes are offered.
    """
    if state != S.REFUSED:
        return ""
    if chorus_status in _STATUS_KIND:
        return _STATUS_KIND[chorus_status]
    text = (reason or "").upper()
    for word, kind in _REASON_WORDS:
        if word in text:
            return kind
    return UNKNOWN


def can_fix_routing(state: str, chorus_status: str, reason: str) -> bool:
    """A refusal that may be a routing return: corrected and resent under the same number."""
    return refusal_kind(state, chorus_status, reason) in (ROUTING, UNKNOWN)


def can_replace(state: str, chorus_status: str, reason: str) -> bool:
    """A refusal that may be a rejection: cancelled by a credit note, replaced by a new invoice."""
    return refusal_kind(state, chorus_status, reason) in (REJECTION, UNKNOWN)


def can_resend(state: str, chorus_status: str, reason: str = "") -> bool:
    """Sent again under the same number: a routing return (refused, fixed), or an invoice whose
    deposit failed (error), corrected and created again at B2Brouter."""
    return state == S.ERROR or can_fix_routing(state, chorus_status, reason)

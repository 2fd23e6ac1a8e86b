"""Bank statements: the credits of an ISO 20022 camt.053 statement, matched to open invoices.

Each booked credit (`Ntry` with `CdtDbtInd` CRDT) is read with the bank's unique reference
(`AcctSvcrRef`), its booking date, amount, who paid and what they wrote. A credit is matched to
the open invoices whose numbers it names (several invoices paid by one transfer: their remainders
add up to its amount), else to the one open invoice whose remainder is its amount. Nothing is
recorded here: a person confirms each proposal, and each is then recorded under a key made of the
bank's reference and the invoice, so that a statement dropped twice records nothing twice.
The bank's own CSV is read into the same credits by `finance.bank_csv`.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree as SafeET

from finance.selectors import open_amounts


class UnreadableStatement(ValueError):
    """The file is not a camt.053 statement this reader understands; the message says why."""


@dataclass(frozen=True)
class Credit:
    reference: str
    booked_on: date
    amount: Decimal
    debtor: str = ""
    remittance: str = ""


@dataclass
class Proposal:
    credit: Credit
    invoices: list = field(default_factory=list)  # [(invoice, amount)]
    why: str = ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(node, *path):
    for name in path:
        if node is None:
            return None
        node = next((child for child in node if _local(child.tag) == name), None)
    return node


def _text(node, *path) -> str:
    found = _find(node, *path)
    return (found.text or "").strip() if found is not None and found.text else ""


def read_camt053(data: bytes) -> list[Credit]:
    """The booked credits in EUR of a camt.053 file. Raises UnreadableStatement."""
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, ValueError) as exc:
        raise UnreadableStatement("not XML") from exc
    statement = _find(root, "BkToCstmrStmt")
    if statement is None:
        raise UnreadableStatement("not a camt.053 statement (no BkToCstmrStmt)")
    credits = []
    for stmt in (child for child in statement if _local(child.tag) == "Stmt"):
        for entry in (child for child in stmt if _local(child.tag) == "Ntry"):
            if _text(entry, "CdtDbtInd") != "CRDT" or _text(entry, "Sts", "Cd") not in (
                    "", "BOOK") and _text(entry, "Sts") not in ("", "BOOK"):
                continue
            amount_node = _find(entry, "Amt")
            if amount_node is None or amount_node.get("Ccy", "EUR") != "EUR":
                continue
            try:
                amount = Decimal((amount_node.text or "").strip())
                booked = date.fromisoformat(_text(entry, "BookgDt", "Dt")[:10])
            except (InvalidOperation, ValueError):
                continue
            details = _find(entry, "NtryDtls", "TxDtls")
            remittance = " ".join(filter(None, [
                _text(details, "RmtInf", "Ustrd"),
                _text(details, "RmtInf", "Strd", "CdtrRefInf", "Ref")]))
            reference = _text(entry, "AcctSvcrRef") or hashlib.sha256(
                f"{booked}|{amount}|{remittance}".encode()).hexdigest()[:32]
            credits.append(Credit(reference=reference[:35], booked_on=booked, amount=amount,
                                  debtor=_text(details, "RltdPties", "Dbtr", "Nm")[:140],
                                  remittance=remittance[:280]))
    return credits


def payment_key(reference: str, invoice_id: int) -> str:
    """The key a statement line records a payment under (once per line and invoice)."""
    return "stmt:" + hashlib.sha256(f"{reference}|{invoice_id}".encode()).hexdigest()[:58]


_NUMBER = re.compile(r"[A-Za-z0-9+\-_/]{3,20}")


def propose(credits: list[Credit], *, user) -> list[Proposal]:
    """Each credit matched to the open invoices the person may see: (invoice id, number,
    amount) for each invoice it settles."""
    open_ = {number: ((pk, number), remaining) for pk, number, remaining
             in open_amounts(user=user, fields=("pk", "number", "remaining"))}
    proposals = []
    taken: set[str] = set()  # invoices an earlier credit of the statement already settles
    for credit in credits:
        named = [open_[word] for word in dict.fromkeys(_NUMBER.findall(credit.remittance))
                 if word in open_ and word not in taken]
        proposal = Proposal(credit=credit)
        if named and sum(r for _i, r in named) == credit.amount:
            proposal.invoices = named
            proposal.why = "number"
        elif len(named) == 1 and credit.amount < named[0][1]:
            proposal.invoices = [(named[0][0], credit.amount)]  # a partial payment
            proposal.why = "number"
        else:
            same = [(i, r) for number, (i, r) in open_.items()
                    if r == credit.amount and number not in taken]
            if len(same) == 1:
                proposal.invoices = same
                proposal.why = "amount"
        taken.update(pair[1] for pair, _amount in proposal.invoices)
        proposals.append(proposal)
    return proposals

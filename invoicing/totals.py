"""Invoice arithmetic, in one place, as B2Brouter computes it (rounding_method half_up).

- a line's total is quantity x price, rounded half-up to cents;
- VAT is computed per (category, rate) on the summed base, then rounded half-up to cents
  (EN 16931 BR-CO-17), never as a sum of rounded line VATs;
- totals are sums of the rounded figures, so BR-CO-10/13/14/15 hold exactly.

Pure functions over Decimal: the live totals of the form, the stored totals and the pre-send
checks all call `compute`, with lines of the one line shape (`invoicing.lines.Line`, or a stored
`InvoiceLine`, which reads the same).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class PricedLine(Protocol):
    """What the arithmetic reads of a line."""

    quantity: Decimal
    unit_price: Decimal
    vat_category: str
    vat_rate: Decimal
    exemption_reason: str


@dataclass(frozen=True)
class VatBreakdown:
    category: str
    rate: Decimal
    base: Decimal
    amount: Decimal
    exemption_reason: str = ""


@dataclass(frozen=True)
class Totals:
    line_totals: list[Decimal] = field(default_factory=list)
    breakdown: list[VatBreakdown] = field(default_factory=list)
    subtotal: Decimal = Decimal("0.00")
    tax_amount: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")
    payable_amount: Decimal = Decimal("0.00")


def line_total(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return round_money(quantity * unit_price)


def compute(lines: Iterable[PricedLine], *, already_paid: bool = False) -> Totals:
    """Totals of an invoice. `already_paid` (billing framework A2) makes the amount due zero."""
    line_totals: list[Decimal] = []
    groups: dict[tuple[str, Decimal], list] = {}
    for line in lines:
        amount = line_total(line.quantity, line.unit_price)
        line_totals.append(amount)
        key = (line.vat_category, line.vat_rate.quantize(CENT))
        group = groups.setdefault(key, [Decimal("0.00"), line.exemption_reason])
        group[0] += amount
        group[1] = group[1] or line.exemption_reason

    breakdown = [
        VatBreakdown(
            category=category,
            rate=rate,
            base=base,
            amount=round_money(base * rate / HUNDRED),
            exemption_reason=reason,
        )
        for (category, rate), (base, reason) in sorted(groups.items())
    ]
    subtotal = sum(line_totals, Decimal("0.00"))
    tax_amount = sum((b.amount for b in breakdown), Decimal("0.00"))
    total = subtotal + tax_amount
    return Totals(
        line_totals=line_totals,
        breakdown=breakdown,
        subtotal=subtotal,
        tax_amount=tax_amount,
        total=total,
        payable_amount=Decimal("0.00") if already_paid else total,
    )

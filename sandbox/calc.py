"""Invoice arithmetic (DEV-CALC, rounding_method half_up): Decimal only, cents rounded half up.

Guarantees, for any invoice this module computes:
- line total_cost = round(quantity x price, 2);
- one tax group per (category, percent): base = sum of its line totals,
  amount = round(base x percent / 100, 2) (computed on the summed base, never per line);
- subtotal = sum of bases of distinct lines, tax_amount = sum of group amounts,
  total = subtotal + tax_amount, payable_amount = total (0 for billing framework A2, already paid).
"""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round2(value):
    """Round a Decimal to cents, half up (1.005 -> 1.01)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent_repr(percent):
    """A tax rate with at least one decimal, as the API shows it (10 -> 10.0, 5.5 -> 5.5)."""
    percent = Decimal(percent)
    return percent.quantize(Decimal("0.1")) if percent.as_tuple().exponent > -1 else percent


def line_total(quantity, price):
    """The line's net amount: round(quantity x price, 2)."""
    return round2(Decimal(quantity) * Decimal(price))


def tax_groups(lines):
    """VAT breakdown of the lines: a list sorted by (category, percent).

    Each line's tax list is the one given in `taxes`; a line counts once in each group it names.
    Every group keeps the first non-empty comment (exemption reason) seen for it.
    """
    groups = {}
    for line in lines:
        total = line_total(line["quantity"], line["price"])
        for tax in line["taxes"]:
            key = (tax["category"], Decimal(tax["percent"]))
            group = groups.setdefault(
                key, {"name": tax["name"], "base": Decimal("0.00"), "comment": None}
            )
            group["base"] += total
            group["comment"] = group["comment"] or tax.get("comment") or None
    result = []
    for (category, percent), group in sorted(groups.items()):
        result.append(
            {
                "name": group["name"],
                "category": category,
                "percent": percent_repr(percent),
                "base": round2(group["base"]),
                "amount": round2(group["base"] * percent / 100),
                "comment": group["comment"],
            }
        )
    return result


def totals(lines, billing_framework=None):
    """Invoice totals: subtotal, tax_amount, total, payable_amount and the taxes breakdown."""
    subtotal = sum((line_total(li["quantity"], li["price"]) for li in lines), Decimal("0.00"))
    taxes = tax_groups(lines)
    tax_amount = sum((t["amount"] for t in taxes), Decimal("0.00"))
    total = round2(subtotal + tax_amount)
    payable = Decimal("0.00") if billing_framework == "A2" else total
    return {
        "subtotal": round2(subtotal),
        "tax_amount": round2(tax_amount),
        "total": total,
        "payable_amount": payable,
        "taxes": taxes,
    }

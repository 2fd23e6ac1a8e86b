from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing import totals
from invoicing.lines import Line


def LineInput(quantity, unit_price, vat_category, vat_rate, exemption_reason=""):  # noqa: N802
    """A line with only what the arithmetic reads."""
    return Line(quantity=quantity, unit_price=unit_price, vat_category=vat_category,
                vat_rate=vat_rate, exemption_reason=exemption_reason)

D = Decimal


def test_guide_invoice():
    result = totals.compute([LineInput(D("135"), D("25.00"), "S", D("10"))])
    assert result.subtotal == D("3375.00")
    assert result.tax_amount == D("337.50")
    assert result.total == D("3712.50")
    assert result.payable_amount == D("3712.50")


def test_rounding_is_half_up_to_cents():
    assert totals.line_total(D("3.5"), D("12.345")) == D("43.21")  # 43.2075
    assert totals.line_total(D("1"), D("0.125")) == D("0.13")      # bankers' rounding would give 0.12
    assert totals.round_money(D("2.675")) == D("2.68")


def test_vat_is_computed_on_the_summed_base_per_category_and_rate():
    # EN 16931 BR-CO-17: round(0.99 x 5.5 %) = 0.05, where summing rounded line VATs would
    # give 3 x round(0.01815) = 0.06.
    lines = [LineInput(D("1"), D("0.33"), "S", D("5.5")) for _ in range(3)]
    result = totals.compute(lines)
    assert result.breakdown[0].base == D("0.99")
    assert result.breakdown[0].amount == D("0.05")
    assert result.tax_amount == D("0.05")


def test_several_rates_and_an_exempt_line():
    result = totals.compute([
        LineInput(D("2"), D("100"), "S", D("20")),
        LineInput(D("1"), D("50"), "S", D("5.5")),
        LineInput(D("1"), D("80"), "E", D("0"), "Exonération art. 261-4-4° du CGI"),
    ])
    assert [(b.category, b.rate, b.base, b.amount) for b in result.breakdown] == [
        ("E", D("0.00"), D("80"), D("0.00")),
        ("S", D("5.50"), D("50"), D("2.75")),
        ("S", D("20.00"), D("200"), D("40.00")),
    ]
    assert result.breakdown[0].exemption_reason.startswith("Exonération")
    assert result.total == D("372.75")


def test_already_paid_invoice_has_nothing_left_to_pay():
    result = totals.compute([LineInput(D("1"), D("10"), "S", D("20"))], already_paid=True)
    assert result.total == D("12.00")
    assert result.payable_amount == D("0.00")


amounts = st.decimals(min_value=D("0"), max_value=D("99999"), places=3, allow_nan=False)
rates = st.sampled_from([D("0"), D("2.1"), D("5.5"), D("10"), D("20")])


@settings(max_examples=200)
@given(st.lists(st.tuples(amounts, amounts, rates), min_size=1, max_size=8))
def test_totals_agree_with_the_sandbox_arithmetic(specs):
    """The product and the B2Brouter emulator compute the same figures, cent for cent."""
    from sandbox import calc

    ours = totals.compute([LineInput(q, p, "S", r) for q, p, r in specs])
    theirs = calc.totals([
        {"quantity": q, "price": p, "taxes": [{"name": "TVA", "category": "S", "percent": r}]}
        for q, p, r in specs
    ])
    assert ours.subtotal == theirs["subtotal"]
    assert ours.tax_amount == theirs["tax_amount"]
    assert ours.total == theirs["total"]
    assert [b.amount for b in ours.breakdown] == [t["amount"] for t in theirs["taxes"]]
    # EN 16931 BR-CO-10/14/15 hold by construction.
    assert ours.subtotal == sum(ours.line_totals, D("0"))
    assert ours.total == ours.subtotal + ours.tax_amount
